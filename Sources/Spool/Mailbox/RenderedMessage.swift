// A message parsed and sanitized once, ready to be sealed for each recipient: the message
// document and index entry the portal shows, the objects to seal, and in OTP mode the PDF
// document (DESIGN §7). What the portal shows of a message is decided here.
import Foundation
import Crypto
import Mail
import Render
import Tunnel

/// A message parsed and sanitized once, ready to be sealed for each recipient.
struct RenderedMessage: Sendable {
    let original: [UInt8]
    /// The message document for a message id, a read-receipt token and OTP details.
    let document: @Sendable (String, String?, MessageDocument.OTP?) -> MessageDocument
    let summary: Summary
    /// OTP mode: what the PDF shows. Rendered once per message, encrypted per recipient.
    let pdf: PDFDocument?

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
    /// The index entry for a message id and, in OTP mode, the PDF's password id.
    let entry: @Sendable (String, String?) -> IndexEntryDocument
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
        let documentParts = parts, documentMessages = messages  // fixed now: the closure below may run on any thread
        self.document = { id, receipt, otp in
            // OTP mode without a portal copy: the password and the headers, nothing of the content.
            let copy = otp?.portalCopy ?? true
            return MessageDocument(id: id, subject: parsed.subject, from: MessageDocument.addresses(parsed.from),
                                   to: MessageDocument.addresses(parsed.to), cc: MessageDocument.addresses(parsed.cc), date: date,
                                   format: copy ? format : "none", body: copy ? body : "", blockedRemoteImages: copy ? blocked : 0,
                                   attachments: copy ? documentParts : [], messages: copy ? documentMessages : [],
                                   problems: copy ? parsed.problems : [], sender: sender, receipt: receipt, otp: otp)
        }
        self.summary = Summary(subject: parsed.subject, fromName: parsed.from.first?.name, fromAddress: parsed.from.first?.address,
                               messageID: parsed.messageID, date: parsed.date)
        self.entry = { id, otpID in
            IndexEntryDocument(id: id, subject: parsed.subject, from: fromText, date: date, size: size,
                               attachments: attachmentCount, otpID: otpID)
        }
        self.pdf = tunnel.envelope.delivery == .otpPDF ? Self.pdfDocument(parsed) : nil
    }

    /// The PDF's content (DESIGN §7): the header fields, the body as the portal would show it
    /// (HTML through the sanitizer's text rendering), every attachment and embedded message.
    static func pdfDocument(_ parsed: ParsedMessage) -> PDFDocument {
        func list(_ addresses: [MessageAddress]) -> String {
            addresses.map { a in a.name.map { "\($0) <\(a.address)>" } ?? a.address }.joined(separator: ", ")
        }
        let body: PDFDocument.Body = parsed.htmlBody.map { .html($0.bytes, charset: $0.charset) } ?? .plain(parsed.textBody ?? "")
        let files = parsed.attachments.map { PDFDocument.Attachment(name: $0.filename, data: $0.data) }
            + parsed.embeddedMessages.map { PDFDocument.Attachment(name: $0.filename, data: $0.raw) }
        return PDFDocument(from: list(parsed.from), to: list(parsed.to), cc: list(parsed.cc),
                           date: parsed.date.map(MailComposer.humanDate) ?? "", subject: parsed.subject ?? "",
                           body: body, attachments: files)
    }
}
