// Step "render" of the sweep (DESIGN §1, §5): each accepted message is parsed once and
// sanitized once, then sealed into the mailbox of each of its recipients under www/m/.
// First contact happens here (FirstContact); a generated password is queued as a sealed
// password notice in the same transaction. Message ids derive from the envelope id and the
// address, so rendering a message again leaves the same set of files.
import Foundation
import Crypto
import Mail
import Render

public struct RenderStage: BatchStage {
    public let step = PipelineStep.render
    /// PBKDF2 iterations for new recipients (lower only in tests).
    let loginIterations: Int
    let mode: Mode

    /// A sweep renders new messages: first contact, notifications. `reprocess` renders
    /// archived ones again for known recipients only (`only`: one of them), and queues mail
    /// only when asked to (`notifyRound`: the round that makes the mail new, so it is sent
    /// again); what would come out the same is not written again.
    public enum Mode: Sendable, Equatable {
        case sweep
        case reprocess(only: String?, notifyRound: Int?)
    }

    public init(loginIterations: Int = SealedFormat.loginIterations, mode: Mode = .sweep) {
        self.loginIterations = loginIterations
        self.mode = mode
    }

    public func run(_ items: inout [BatchItem], writes: inout BatchWrites, context: SweepContext) throws {
        var accepted = items.indices.filter { if case .accepted = items[$0].outcome { return true } else { return false } }
        guard !accepted.isEmpty else { return }
        let www = PortalFiles(root: context.config.www)
        let salt = try context.store.installationSalt()
        try www.writeParameters(installationSalt: salt)
        let outboxKey = try OutboxKey.loadOrCreate(path: context.config.outboxKey)
        let composer = try MailComposer(config: context.config, key: outboxKey)
        let receipts = try ReceiptTokens(key: outboxKey)
        if mode == .sweep {
            try holdOverQuota(&items, accepted: accepted, writes: &writes, composer: composer, context: context)
            accepted = accepted.filter { if case .accepted = items[$0].outcome { return true } else { return false } }
            guard !accepted.isEmpty else { return }
        }
        var addresses: [String] = []
        for i in accepted { if case .accepted(let a) = items[i].outcome { addresses += a.envelope.recipients } }
        var recipients = try context.store.recipients(Array(Set(addresses)))
        // What was taken out of a mailbox (recall, expiry, recipient delete) is never
        // rendered into it again, nor into a mailbox made later for the same address.
        var envelopeIDs: [String] = []
        for i in accepted { if case .accepted(let a) = items[i].outcome { envelopeIDs.append(a.envelope.id) } }
        let gone = try context.store.tombstones(envelopeIDs: envelopeIDs)
        let firstContact = FirstContact(www: www, installationSalt: salt, iterations: loginIterations)

        // First contact, one address at a time (each costs one PBKDF2 run, by design).
        // Reprocessing never meets anyone: a recipient it does not know (deleted) is left out.
        var introduced: [String: (envelopeID: String, bundleFile: String)] = [:]
        var refused: Set<String> = []
        for i in accepted where mode == .sweep {
            guard case .accepted(let tunnel) = items[i].outcome else { continue }
            for address in tunnel.envelope.recipients
            where recipients[address] == nil && !gone.contains(StateStore.tombstoneKey(envelopeID: tunnel.envelope.id, address: address)) {
                let contact: FirstContact.Result
                // A first contact that fails for this message alone is its outcome (issue 15).
                do { contact = try firstContact.register(address, password: tunnel.envelope.passwords[address], now: context.now) }
                catch where !SweepFault.isInstallationFault(error) {
                    items[i].outcome = Self.outcome(failing: error)
                    refused.insert(tunnel.envelope.id)
                    break
                }
                recipients[address] = contact.recipient
                writes.recipients.append(contact.recipient)
                introduced[address] = (tunnel.envelope.id, contact.bundleFile)
                if let password = contact.generatedPassword {
                    writes.outbox.append(try composer.passwordNotice(envelope: tunnel.envelope, recipient: address,
                                                                     password: password, now: context.now))
                }
            }
        }
        accepted = accepted.filter { if case .accepted = items[$0].outcome { return true } else { return false } }

        let writer = MailboxWriter(www: www, digestKey: try outboxKey.derived("render-digest"))
        let known = recipients
        let now = context.now
        // Each worker takes its message's original (tens of MB for a large message) out of the
        // batch, and it is let go once sealed: the rest of the sweep needs only the envelope.
        let originals = Handover<AcceptedTunnel>(accepted.map { i in
            guard case .accepted(let tunnel) = items[i].outcome else { preconditionFailure("filtered as accepted") }
            items[i].outcome = .accepted(tunnel.withoutOriginal())
            return tunnel
        })
        let snapshot = items
        var ids: [String] = []
        for i in accepted { if case .accepted(let t) = items[i].outcome { ids += t.envelope.recipients.map { MailboxWriter.messageID(envelopeID: t.envelope.id, address: $0) } } }
        let previous = try context.store.deliveries(messageIDs: ids)
        let only: String?, mailRound: Int?
        switch mode {
        case .sweep: (only, mailRound) = (nil, 0)
        case .reprocess(let o, let round): (only, mailRound) = (o, round)
        }
        let wantsReceipts = context.config.readReceipts
        let firstContacts = Set(writes.recipients.map(\.address))
        // Rendering, sealing and composing each recipient's mail, per message on all cores.
        let otpPasswords = try OTPPasswords(key: outboxKey)
        let portalCopy = context.config.otpPortalCopy
        let results: [Result<([DeliveryRecord], [OutboxEntry], Set<String>), Error>] = Parallel.map(accepted.count, workers: context.config.workers) { n in
            Result {
                try FaultPoint.reach("render")
                let tunnel = originals.take(n)
                let envelope = tunnel.envelope
                let addresses = envelope.recipients.filter {
                    known[$0] != nil && (only == nil || $0 == only)
                        && !gone.contains(StateStore.tombstoneKey(envelopeID: envelope.id, address: $0))
                }
                var rendered: RenderedMessage? = try RenderedMessage(consume tunnel)
                let summary = rendered!.summary
                // OTP mode: each recipient's password, shown in their mailbox, opens their PDF.
                var pdfDocument = rendered!.pdf
                let credentials = try pdfDocument.map { _ in
                    try addresses.map { try otpPasswords.credentials(envelopeID: envelope.id, address: $0) }
                }
                let written = try addresses.enumerated().map { n, address in
                    let recipient = known[address]!
                    let messageID = MailboxWriter.messageID(envelopeID: envelope.id, address: address)
                    let receipt = wantsReceipts && envelope.readReceipt
                        ? try receipts.receipt(for: recipient, messageID: messageID,
                                               context: summary.receiptContext(envelope: envelope, recipient: address))
                        : nil
                    let otp = credentials.map {
                        MessageDocument.OTP(passwordID: $0[n].passwordID, password: $0[n].password,
                                            file: Self.pdfFileName($0[n]), portalCopy: portalCopy)
                    }
                    return try writer.write(rendered!, for: recipient, envelopeID: envelope.id, receivedAt: now,
                                            receipt: receipt, otp: otp, previous: previous[messageID])
                }
                let deliveries = written.map(\.record)
                let changed = Set(written.filter(\.changed).map(\.record.mailboxID))
                // Reprocessing mails nothing unless asked to.
                guard let round = mailRound else { return (deliveries, [], changed) }
                let sender = (name: summary.fromName, address: summary.fromAddress ?? envelope.sender)
                guard pdfDocument != nil, let credentials else {
                    // Each recipient learns that a message waits; queued with the delivery itself.
                    return (deliveries, try addresses.map {
                        try composer.notification(envelope: envelope, recipient: $0, senderName: sender.name,
                                                  senderAddress: sender.address, subject: summary.subject,
                                                  firstContact: firstContacts.contains($0), round: round, now: now)
                    }, changed)
                }
                // The PDF mail stands in for the notification: it names the password id and links to
                // the portal, where the password is. One PDF per message, encrypted per recipient;
                // what is no longer needed is let go first, as a PDF may carry megabytes of attachments.
                rendered = nil
                var pdf: [UInt8]? = try OTPPDF.render(pdfDocument!)
                pdfDocument = nil
                var mail: [OutboxEntry] = []
                for (n, address) in addresses.enumerated() {
                    let encrypted = try PDFEncryptor.encrypt(pdf!, password: credentials[n].password)
                    if n == addresses.count - 1 { pdf = nil }
                    mail.append(try composer.otpPDF(
                        envelope: envelope, recipient: address, senderName: sender.name, senderAddress: sender.address,
                        subject: summary.subject, passwordID: credentials[n].passwordID, pdf: consume encrypted,
                        filename: Self.pdfFileName(credentials[n]), firstContact: firstContacts.contains(address), round: round,
                        now: now))
                }
                return (deliveries, mail, changed)
            }
        }
        var touched: Set<String> = []
        for (n, result) in results.enumerated() {
            switch result {
            case .success(let (deliveries, notifications, changed)):
                writes.deliveries += deliveries
                touched.formUnion(changed)
                writes.outbox += notifications
            case .failure(let error as MIMEError):
                items[accepted[n]].outcome = .rejected(Rejection(.malformedMIME, "The original message cannot be read: \(error)."))
            // Only a fault of the installation fails the batch; any other error is this
            // message's alone (issue 15): tried again when it may pass, else refused.
            case .failure(let error) where SweepFault.isInstallationFault(error):
                throw error
            case .failure(let error):
                items[accepted[n]].outcome = Self.outcome(failing: error)
            }
        }
        // A recipient met only through a message that was then refused is not kept: no
        // record, no key bundle, no password notice for a message that never arrived.
        for i in accepted {
            guard case .accepted(let t) = snapshot[i].outcome else { continue }
            switch items[i].outcome {
            case .rejected, .retry: refused.insert(t.envelope.id)
            default: break
            }
        }
        let delivered = Set(writes.deliveries.map(\.address))
        for (address, origin) in introduced where refused.contains(origin.envelopeID) && !delivered.contains(address) {
            writes.recipients.removeAll { $0.address == address }
            let notice = OutboxEntry.uid(.passwordNotice, cause: origin.envelopeID, recipient: address)
            writes.outbox.removeAll { $0.uid == notice }
            unlink(origin.bundleFile)
        }
        // The index lists what is recorded plus this batch. Written before the commit: a
        // crash in between leaves an index naming objects that exist, and the next sweep
        // renders the same ids again.
        for mailbox in touched {
            let recorded = try context.store.deliveries(mailboxID: mailbox)
            try writer.writeIndex(mailboxID: mailbox, deliveries: recorded + writes.deliveries.filter { $0.mailboxID == mailbox })
        }
        // One flush for every object, bundle and index of the batch, before it is recorded.
        try FileSystem.syncFileSystem(containing: www.root)
    }

    /// portal.quota_mb: a message that does not fit into one of its recipients' mailboxes is
    /// held (spool/held, by the sweep), not lost, and its sender is told, per full mailbox.
    /// Messages of the batch count against the mailboxes in order.
    private func holdOverQuota(_ items: inout [BatchItem], accepted: [Int], writes: inout BatchWrites, composer: MailComposer,
                               context: SweepContext) throws {
        let quota = context.config.quotaMB * 1_048_576
        var addresses: Set<String> = []
        for i in accepted { if case .accepted(let t) = items[i].outcome { addresses.formUnion(t.envelope.recipients) } }
        var used = try context.store.mailboxBytes(Array(addresses))
        for i in accepted {
            guard case .accepted(let t) = items[i].outcome else { continue }
            let size = t.original.count
            let full = t.envelope.recipients.filter { used[$0, default: 0] + size > quota }
            guard full.isEmpty else {
                items[i].outcome = .held("The mailbox of \(full.joined(separator: ", ")) is full: \(size) more bytes do not fit in "
                                         + "portal.quota_mb (\(context.config.quotaMB) MB). Raise it or free space, then run spoolrun reprocess --held.")
                for address in full {
                    writes.outbox.append(try composer.heldNotice(envelope: t.envelope, recipient: address, subject: nil, now: context.now))
                }
                continue
            }
            for address in t.envelope.recipients { used[address, default: 0] += size }
        }
    }

    /// A message's outcome after an error of its own: tried again when the error may pass
    /// (SweepFault.mayPass), else refused as render-failed.
    private static func outcome(failing error: Error) -> BatchItem.Outcome {
        let text = SweepFault.oneLine(error)
        return SweepFault.mayPass(error) ? .retry("Rendering failed: \(text)")
            : .rejected(Rejection(.renderFailed, "The message cannot be rendered: \(text)."))
    }

    /// The PDF's name in the mail, e.g. "message-P-7Q2K-9D.pdf": it names the password id.
    static func pdfFileName(_ c: OTPCredentials) -> String { "message-\(c.passwordID).pdf" }
}
