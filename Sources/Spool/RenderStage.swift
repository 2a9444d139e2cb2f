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

    public init(loginIterations: Int = SealedFormat.loginIterations) { self.loginIterations = loginIterations }

    public func run(_ items: inout [BatchItem], writes: inout BatchWrites, context: SweepContext) throws {
        let accepted = items.indices.filter { if case .accepted = items[$0].outcome { return true } else { return false } }
        guard !accepted.isEmpty else { return }
        let www = PortalFiles(root: context.config.www)
        let salt = try context.store.installationSalt()
        try www.writeParameters(installationSalt: salt)
        let outboxKey = try OutboxKey.loadOrCreate(path: context.config.outboxKey)
        let composer = try MailComposer(config: context.config, key: outboxKey)
        let receipts = try ReceiptTokens(key: outboxKey)
        var addresses: [String] = []
        for i in accepted { if case .accepted(let a) = items[i].outcome { addresses += a.envelope.recipients } }
        var recipients = try context.store.recipients(Array(Set(addresses)))
        let firstContact = FirstContact(www: www, installationSalt: salt, iterations: loginIterations)

        // First contact, one address at a time (each costs one PBKDF2 run, by design).
        var introduced: [String: (envelopeID: String, bundleFile: String)] = [:]
        for i in accepted {
            guard case .accepted(let tunnel) = items[i].outcome else { continue }
            for address in tunnel.envelope.recipients where recipients[address] == nil {
                let contact = try firstContact.register(address, password: tunnel.envelope.passwords[address], now: context.now)
                recipients[address] = contact.recipient
                writes.recipients.append(contact.recipient)
                introduced[address] = (tunnel.envelope.id, contact.bundleFile)
                if let password = contact.generatedPassword {
                    writes.outbox.append(try composer.passwordNotice(envelope: tunnel.envelope, recipient: address,
                                                                     password: password, now: context.now))
                }
            }
        }

        // Rendering and sealing are CPU-bound and independent per message: all cores.
        let writer = MailboxWriter(www: www)
        let known = recipients
        let now = context.now
        let snapshot = items
        let wantsReceipts = context.config.readReceipts
        let firstContacts = Set(writes.recipients.map(\.address))
        // Rendering, sealing and composing each recipient's notification, per message on all cores.
        let results: [Result<([DeliveryRecord], [OutboxEntry]), Error>] = Parallel.map(accepted.count, workers: context.config.workers) { n in
            guard case .accepted(let tunnel) = snapshot[accepted[n]].outcome else { return .failure(CancellationError()) }
            return Result {
                let rendered = try RenderedMessage(tunnel)
                let deliveries = try tunnel.envelope.recipients.map { address in
                    let recipient = known[address]!
                    let receipt = wantsReceipts && tunnel.envelope.readReceipt
                        ? try receipts.receipt(for: recipient, messageID: MailboxWriter.messageID(envelopeID: tunnel.envelope.id, address: address),
                                               context: rendered.summary.receiptContext(envelope: tunnel.envelope, recipient: address))
                        : nil
                    return try writer.write(rendered, for: recipient, envelopeID: tunnel.envelope.id, receivedAt: now, receipt: receipt)
                }
                // Each recipient learns that a message waits; queued with the delivery itself.
                let summary = rendered.summary
                let notifications = try deliveries.map { d in
                    try composer.notification(
                        envelope: tunnel.envelope, recipient: d.address, senderName: summary.fromName,
                        senderAddress: summary.fromAddress ?? tunnel.envelope.sender, subject: summary.subject,
                        firstContact: firstContacts.contains(d.address), now: now)
                }
                return (deliveries, notifications)
            }
        }
        var touched: Set<String> = []
        for (n, result) in results.enumerated() {
            switch result {
            case .success(let (deliveries, notifications)):
                writes.deliveries += deliveries
                touched.formUnion(deliveries.map(\.mailboxID))
                writes.outbox += notifications
            case .failure(let error as MIMEError):
                items[accepted[n]].outcome = .rejected(Rejection(.malformedMIME, "The original message cannot be read: \(error)."))
            case .failure(let error):
                throw error
            }
        }
        // A recipient met only through a message that was then refused is not kept: no
        // record, no key bundle, no password notice for a message that never arrived.
        var refused: Set<String> = []
        for i in accepted {
            if case .rejected = items[i].outcome, case .accepted(let t) = snapshot[i].outcome { refused.insert(t.envelope.id) }
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
}

/// A message parsed and sanitized once, ready to be sealed for each recipient.
struct RenderedMessage {
    let original: [UInt8]
    let document: (String, String?) -> MessageDocument
    let summary: Summary

    /// What the portal's own mail about this message may say (sealed or sent only).
    struct Summary: Sendable {
        let subject: String?
        let fromName: String?
        let fromAddress: String?
        let messageID: String?
        let date: Date?

        func receiptContext(envelope: TunnelEnvelope, recipient: String) -> ReceiptContext {
            ReceiptContext(envelopeID: envelope.id, sender: envelope.sender, recipient: recipient, subject: subject,
                           originalMessageID: messageID, sent: date)
        }
    }
    let entry: (String) -> IndexEntryDocument
    let objects: [(name: String, bytes: [UInt8])]

    init(_ tunnel: AcceptedTunnel) throws {
        let parsed = try MessageParser.parse(tunnel.original)
        var parts: [MessageDocument.Part] = []
        var objects: [(String, [UInt8])] = []
        var contentIDs: [String: String] = [:]
        for a in parsed.attachments {
            let name = "att-\(a.index)"
            parts.append(.init(object: name, name: a.filename, type: a.mediaType, size: a.data.count, inline: a.isInline,
                               cid: a.contentID))
            objects.append((name, a.data))
            if let cid = a.contentID { contentIDs[cid] = name }
        }
        var messages: [MessageDocument.Part] = []
        for m in parsed.embeddedMessages {
            let name = "msg-\(m.index)"
            messages.append(.init(object: name, name: m.filename, type: "message/rfc822", size: m.raw.count, inline: false, cid: nil))
            objects.append((name, m.raw))
        }
        let format: String, body: String, blocked: Int
        if let html = parsed.htmlBody {
            let resolved = contentIDs
            let clean = HTMLSanitizer.sanitize(html.bytes, charset: html.charset,
                                               policy: SanitizerPolicy(resolveContentID: { resolved[$0] }))
            (format, body, blocked) = ("html", clean.html, clean.blockedRemoteImages)
        } else {
            (format, body, blocked) = ("text", PlainTextRenderer.html(parsed.textBody ?? ""), 0)
        }
        let date = parsed.date.map(TunnelEnvelope.formatTime)
        let sender = tunnel.envelope.sender
        let fromText = parsed.from.first.map { $0.name.map { "\($0) <" } ?? "" }.map { prefix in
            prefix.isEmpty ? parsed.from[0].address : "\(prefix)\(parsed.from[0].address)>"
        }
        let attachmentCount = parts.filter { !$0.inline }.count + messages.count
        let size = tunnel.original.count
        self.original = tunnel.original
        self.objects = objects
        self.document = { id, receipt in
            MessageDocument(id: id, subject: parsed.subject, from: MessageDocument.addresses(parsed.from),
                            to: MessageDocument.addresses(parsed.to), cc: MessageDocument.addresses(parsed.cc), date: date,
                            format: format, body: body, blockedRemoteImages: blocked, attachments: parts, messages: messages,
                            problems: parsed.problems, sender: sender, receipt: receipt)
        }
        self.summary = Summary(subject: parsed.subject, fromName: parsed.from.first?.name, fromAddress: parsed.from.first?.address,
                               messageID: parsed.messageID, date: parsed.date)
        self.entry = { id in
            IndexEntryDocument(id: id, subject: parsed.subject, from: fromText, date: date, size: size,
                               attachments: attachmentCount)
        }
    }
}
