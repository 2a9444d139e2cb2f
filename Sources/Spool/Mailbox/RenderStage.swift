// Step "render" of the sweep (DESIGN §1, §5), in named phases: parse (each accepted message
// parsed and sanitized once; one that cannot be read is refused here), introduce (first
// contact, only for what parsed; a generated password is queued as a sealed password notice
// in the batch's transaction), seal (into each recipient's mailbox under www/m/), compose
// (the notification or OTP-PDF mail), index. Message ids derive from the envelope id and the
// address, so rendering a message again leaves the same set of files.
import Foundation
import Crypto
import Mail
import Render
import Tunnel

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
        guard !Self.accepted(items).isEmpty else { return }
        let services = try context.services.mailbox(config: context.config, store: context.store)
        if mode == .sweep { try holdOverQuota(&items, accepted: Self.accepted(items), writes: &writes, composer: services.composer, context: context) }
        var messages = try parse(&items, context: context)
        guard !messages.isEmpty else { return }
        var recipients = try context.store.recipients(Array(Set(messages.flatMap { $0.envelope.recipients })))
        // What was taken out of a mailbox (recall, expiry, recipient delete) is never
        // rendered into it again, nor into a mailbox made later for the same address.
        let gone = try context.store.tombstones(envelopeIDs: messages.map(\.envelope.id))
        if mode == .sweep {
            try introduce(&messages, items: &items, recipients: &recipients, gone: gone, writes: &writes,
                          services: services, context: context)
        }
        let touched = try sealAndCompose(messages, items: &items, recipients: recipients, gone: gone, writes: &writes,
                                         services: services, context: context)
        try index(touched, writes: writes, services: services, context: context)
    }

    /// The batch's accepted items, by index.
    private static func accepted(_ items: [BatchItem]) -> [Int] {
        items.indices.filter { if case .accepted = items[$0].outcome { return true } else { return false } }
    }

    /// One accepted message between the phases: parsed once, its original let go with it.
    private struct Parsed {
        let item: Int
        let envelope: TunnelEnvelope
        let rendered: RenderedMessage
    }

    // MARK: - parse

    /// Parses and sanitizes every accepted message, on all cores. A message that cannot be
    /// read becomes a malformed-mime rejection here, before anyone is met for it. Each worker
    /// takes its message's original out of the batch (tens of MB for a large message): from
    /// here on the batch item keeps only the envelope.
    private func parse(_ items: inout [BatchItem], context: SweepContext) throws -> [Parsed] {
        let accepted = Self.accepted(items)
        let originals = Handover<AcceptedTunnel>(accepted.map { i in
            guard case .accepted(let tunnel) = items[i].outcome else { preconditionFailure("filtered as accepted") }
            items[i].outcome = .accepted(tunnel.withoutOriginal())
            return tunnel
        })
        let results: [Result<RenderedMessage, Error>] = Parallel.map(accepted.count, workers: context.config.workers) { n in
            Result {
                try FaultPoint.reach("render")
                return try RenderedMessage(originals.take(n))
            }
        }
        var parsed: [Parsed] = []
        for (n, result) in results.enumerated() {
            let i = accepted[n]
            guard case .accepted(let tunnel) = items[i].outcome else { continue }
            switch result {
            case .success(let rendered):
                parsed.append(Parsed(item: i, envelope: tunnel.envelope, rendered: rendered))
            case .failure(let error as MIMEError):
                items[i].outcome = .rejected(Rejection(.malformedMIME, "The original message cannot be read: \(error)."))
            case .failure(let error) where SweepFault.isInstallationFault(error):
                throw error
            case .failure(let error):
                items[i].outcome = Self.outcome(failing: error)
            }
        }
        return parsed
    }

    // MARK: - introduce

    /// First contact for the recipients of the messages that parsed, one address at a time
    /// (each costs one PBKDF2 run, by design); a generated password is queued as a password
    /// notice. A message whose first contact fails keeps none of its own (their key bundles
    /// go at once) and leaves the batch with its outcome; recipients it shares with other
    /// messages stay met. Reprocessing never meets anyone: a recipient it does not know
    /// (deleted) is left out.
    private func introduce(_ messages: inout [Parsed], items: inout [BatchItem], recipients: inout [String: RecipientRecord],
                           gone: Set<String>, writes: inout BatchWrites, services: MailboxServices,
                           context: SweepContext) throws {
        let firstContact = FirstContact(www: services.www, installationSalt: services.installationSalt, iterations: loginIterations)
        var kept: [Parsed] = []
        for message in messages {
            let envelope = message.envelope
            var met: [(contact: FirstContact.Result, notice: OutboxEntry?)] = []
            do {
                for address in envelope.recipients
                where recipients[address] == nil && !gone.contains(StateStore.tombstoneKey(envelopeID: envelope.id, address: address)) {
                    let contact = try firstContact.register(address, password: envelope.passwords[address], now: context.now)
                    met.append((contact, try contact.generatedPassword.map {
                        try services.composer.passwordNotice(envelope: envelope, recipient: address, password: $0, now: context.now)
                    }))
                    recipients[address] = contact.recipient
                }
            } catch where !SweepFault.isInstallationFault(error) {
                for m in met {
                    unlink(m.contact.bundleFile)
                    recipients[m.contact.recipient.address] = nil
                }
                items[message.item].outcome = Self.outcome(failing: error)
                continue
            }
            for m in met {
                writes.recipients.append(m.contact.recipient)
                if let notice = m.notice { writes.outbox.append(notice) }
            }
            kept.append(message)
        }
        messages = kept
    }

    // MARK: - seal and compose

    /// Per message, on all cores: seal it into each recipient's mailbox (seal), then the mail
    /// that tells them (compose). Returns the mailboxes whose content changed.
    private func sealAndCompose(_ messages: [Parsed], items: inout [BatchItem], recipients: [String: RecipientRecord],
                                gone: Set<String>, writes: inout BatchWrites, services: MailboxServices,
                                context: SweepContext) throws -> Set<String> {
        let ids = messages.flatMap { m in m.envelope.recipients.map { MailboxWriter.messageID(envelopeID: m.envelope.id, address: $0) } }
        let previous = try context.store.deliveries(messageIDs: ids)
        let only: String?, mailRound: Int?
        switch mode {
        case .sweep: (only, mailRound) = (nil, 0)
        case .reprocess(let o, let round): (only, mailRound) = (o, round)
        }
        let plan = SealPlan(now: context.now, wantsReceipts: context.config.readReceipts, portalCopy: context.config.otpPortalCopy,
                            firstContacts: Set(writes.recipients.map(\.address)), previous: previous, services: services)
        let rendered = Handover<RenderedMessage>(messages.map(\.rendered))
        let envelopes = messages.map(\.envelope)
        let results: [Result<(deliveries: [DeliveryRecord], changed: Set<String>, mail: [OutboxEntry]), Error>] =
            Parallel.map(messages.count, workers: context.config.workers) { n in
                Result {
                    let envelope = envelopes[n]
                    let addresses = envelope.recipients.filter {
                        recipients[$0] != nil && (only == nil || $0 == only)
                            && !gone.contains(StateStore.tombstoneKey(envelopeID: envelope.id, address: $0))
                    }
                    var message: RenderedMessage? = rendered.take(n)
                    let sealed = try Self.seal(message!, envelope: envelope, to: addresses.map { recipients[$0]! }, plan: plan)
                    // Reprocessing mails nothing unless asked to.
                    guard let round = mailRound else { return (sealed.deliveries, sealed.changed, []) }
                    let summary = message!.summary
                    let pdf = message!.pdf
                    message = nil  // a PDF may carry megabytes of attachments: only its document is kept
                    return (sealed.deliveries, sealed.changed, try Self.compose(summary: summary, pdf: pdf, credentials: sealed.credentials,
                                                                envelope: envelope, to: addresses, round: round, plan: plan))
                }
            }
        var touched: Set<String> = []
        for (n, result) in results.enumerated() {
            switch result {
            case .success(let (deliveries, changed, mail)):
                writes.deliveries += deliveries
                writes.outbox += mail
                touched.formUnion(changed)
            case .failure(let error as MIMEError):
                items[messages[n].item].outcome = .rejected(Rejection(.malformedMIME, "The original message cannot be read: \(error)."))
            // Only a fault of the installation fails the batch; any other error is this
            // message's alone (issue 15): tried again when it may pass, else refused.
            case .failure(let error) where SweepFault.isInstallationFault(error):
                throw error
            case .failure(let error):
                items[messages[n].item].outcome = Self.outcome(failing: error)
            }
        }
        return touched
    }

    /// What sealing and composing share across the batch's messages.
    private struct SealPlan: Sendable {
        let now: Date
        let wantsReceipts: Bool
        let portalCopy: Bool
        let firstContacts: Set<String>
        let previous: [String: DeliveryRecord]
        let services: MailboxServices
    }

    /// seal: the message's objects, document and index entry, sealed into each recipient's
    /// mailbox (MailboxWriter leaves a render that would come out the same as it is; the
    /// mailboxes it wrote into are returned). In OTP mode each recipient's PDF password, shown
    /// in their mailbox, is made here.
    private static func seal(_ message: RenderedMessage, envelope: TunnelEnvelope, to recipients: [RecipientRecord],
                             plan: SealPlan) throws -> (deliveries: [DeliveryRecord], changed: Set<String>, credentials: [OTPCredentials]?) {
        let summary = message.summary
        let credentials = try message.pdf.map { _ in
            try recipients.map { try plan.services.otpPasswords.credentials(envelopeID: envelope.id, address: $0.address) }
        }
        let written = try recipients.enumerated().map { n, recipient in
            let messageID = MailboxWriter.messageID(envelopeID: envelope.id, address: recipient.address)
            let receipt = plan.wantsReceipts && envelope.readReceipt
                ? try plan.services.receipts.receipt(for: recipient, messageID: messageID,
                                                     context: summary.receiptContext(envelope: envelope, recipient: recipient.address))
                : nil
            let otp = credentials.map {
                MessageDocument.OTP(passwordID: $0[n].passwordID, password: $0[n].password, file: pdfFileName($0[n]),
                                    portalCopy: plan.portalCopy)
            }
            return try plan.services.writer.write(message, for: recipient, envelopeID: envelope.id, receivedAt: plan.now,
                                                  receipt: receipt, otp: otp, previous: plan.previous[messageID])
        }
        return (written.map(\.record), Set(written.filter(\.changed).map(\.record.mailboxID)), credentials)
    }

    /// compose: each recipient learns that a message waits, queued with the delivery itself.
    /// In OTP mode the PDF mail stands in for the notification: it names the password id and
    /// links to the portal, where the password is; one PDF per message, encrypted per recipient.
    private static func compose(summary: RenderedMessage.Summary, pdf document: PDFDocument?, credentials: [OTPCredentials]?,
                                envelope: TunnelEnvelope, to addresses: [String], round: Int, plan: SealPlan) throws -> [OutboxEntry] {
        let composer = plan.services.composer
        let sender = (name: summary.fromName, address: summary.fromAddress ?? envelope.sender)
        guard let document, let credentials else {
            return try addresses.map {
                try composer.notification(envelope: envelope, recipient: $0, senderName: sender.name,
                                          senderAddress: sender.address, subject: summary.subject,
                                          firstContact: plan.firstContacts.contains($0), round: round, now: plan.now)
            }
        }
        var pdf: [UInt8]? = try OTPPDF.render(document)
        var mail: [OutboxEntry] = []
        for (n, address) in addresses.enumerated() {
            let encrypted = try PDFEncryptor.encrypt(pdf!, password: credentials[n].password)
            if n == addresses.count - 1 { pdf = nil }
            mail.append(try composer.otpPDF(
                envelope: envelope, recipient: address, senderName: sender.name, senderAddress: sender.address,
                subject: summary.subject, passwordID: credentials[n].passwordID, pdf: consume encrypted,
                filename: pdfFileName(credentials[n]), firstContact: plan.firstContacts.contains(address), round: round,
                now: plan.now))
        }
        return mail
    }

    // MARK: - index

    /// index: the index of each mailbox whose content changed lists what is recorded plus
    /// this batch. Written before the commit: a crash in between leaves an index naming
    /// objects that exist, and the next sweep renders the same ids again. Then one flush for
    /// every object, bundle and index of the batch, before it is recorded.
    private func index(_ touched: Set<String>, writes: BatchWrites, services: MailboxServices, context: SweepContext) throws {
        for mailbox in touched.sorted() {
            let recorded = try context.store.deliveries(mailboxID: mailbox)
            try services.writer.writeIndex(mailboxID: mailbox, deliveries: recorded + writes.deliveries.filter { $0.mailboxID == mailbox })
        }
        try FileSystem.syncFileSystem(containing: services.www.root)
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
