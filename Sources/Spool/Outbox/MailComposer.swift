// Composes the portal's mail (DESIGN §6) from the templates and the configuration, and
// seals each message into an outbox entry. Which mail a sweep sends is decided by the
// stages; what it says is decided here and in the templates.
import Foundation
import Crypto
import Mail
import Render
import Tunnel

/// What a read receipt needs about the message that was read. Kept sealed in the state
/// store (it holds a subject), next to the delivery it belongs to.
public struct ReceiptContext: Codable, Sendable, Equatable {
    public var envelopeID: String
    /// The envelope's sender: the receipt goes to them.
    public var sender: String
    public var recipient: String
    public var subject: String?
    public var originalMessageID: String?
    public var sent: Date?
}

public struct MailComposer: Sendable {
    let config: SpoolrunConfig
    let templates: MailTemplates
    let key: OutboxKey
    /// The host name put in Reporting-UA.
    let host: String

    public init(config: SpoolrunConfig, key: OutboxKey) throws {
        self.config = config
        self.key = key
        do {
            templates = try MailTemplates.load(overrides: config.templates)
        } catch let e as TemplateError {
            throw ConfigError(file: config.file, key: "mail.templates", problem: e.description)
        }
        host = URL(string: config.portalURL)?.host ?? "localhost"
    }

    private var from: MailAddress { MailAddress(name: config.mailFromName, address: config.mailFrom) }

    private func entry(_ kind: OutboxEntry.Kind, uid: String, envelopeID: String?, to rcpt: MailAddress,
                       text: RenderedMailText, now: Date, inReplyTo: String? = nil,
                       body: (RenderedMailText) -> OutgoingMail.Body) throws -> OutboxEntry {
        let mail = OutgoingMail(from: from, to: [rcpt], subject: text.subject, date: now, inReplyTo: inReplyTo, body: body(text))
        return try sealed(kind, uid: uid, envelopeID: envelopeID, to: rcpt, message: try mail.rfc5322(), now: now)
    }

    private func sealed(_ kind: OutboxEntry.Kind, uid: String, envelopeID: String?, to rcpt: MailAddress,
                        message: [UInt8], now: Date) throws -> OutboxEntry {
        try key.entry(kind, uid: uid, message: message, envelopeID: envelopeID, mailFrom: config.mailFrom,
                      to: rcpt.address, now: now)
    }

    private static func textAndHTML(_ t: RenderedMailText) -> OutgoingMail.Body {
        t.html.map { .alternative(text: t.text, html: $0) } ?? .text(t.text)
    }

    /// Who the recipient is told sent the message (issue 15): always the envelope's sender,
    /// the address the gateway vouched for, with the original From's display name only when
    /// that From is the same address. A From that differs is the original's word alone, so
    /// neither its address nor its name (which would then seem to belong to the sender) is shown.
    static func senderDisplay(name: String?, fromAddress: String, envelopeSender: String) -> String {
        guard EmailAddress.normalize(fromAddress) == EmailAddress.normalize(envelopeSender),
              let name = name.map(HeaderText.clean), !name.isEmpty else { return envelopeSender }
        return "\(name) <\(envelopeSender)>"
    }

    /// The notice to a recipient that a message waits: sender and link, never the body; the
    /// subject only with portal.show_subject. `senderName` and `senderAddress` are the original's
    /// From (unchecked); the mail names the envelope's sender (see senderDisplay).
    public func notification(envelope: TunnelEnvelope, recipient: String, senderName: String?, senderAddress: String,
                             subject: String?, firstContact: Bool, round: Int = 0, now: Date) throws -> OutboxEntry {
        var values: [String: TemplateValue] = [
            "sender_display": .text(Self.senderDisplay(name: senderName, fromAddress: senderAddress, envelopeSender: envelope.sender)),
            "sender_address": .text(envelope.sender), "recipient": .text(recipient),
            "portal_url": .text(config.portalURL), "first_contact": .flag(firstContact),
        ]
        if config.showSubject, let subject { values["subject"] = .text(HeaderText.clean(subject)) }
        let text = templates.render(.notification, values)
        return try entry(.notification, uid: OutboxEntry.uid(.notification, cause: envelope.id, recipient: recipient, round: round),
                         envelopeID: envelope.id, to: MailAddress(address: recipient), text: text, now: now, body: Self.textAndHTML)
    }

    /// The first-contact password, to the envelope's sender only.
    public func passwordNotice(envelope: TunnelEnvelope, recipient: String, password: String, now: Date) throws -> OutboxEntry {
        try passwordNotice(recipient: recipient, password: password, to: envelope.sender, cause: envelope.id, envelopeID: envelope.id,
                           now: now)
    }

    /// The password notice to `to`, who passes the password on; `cause` makes its uid.
    private func passwordNotice(recipient: String, password: String, to: String, cause: String, envelopeID: String?,
                                now: Date) throws -> OutboxEntry {
        let text = templates.render(.passwordNotice, [
            "recipient": .text(recipient), "password": .text(password), "portal_url": .text(config.portalURL),
            "sender_address": .text(to),
        ])
        return try entry(.passwordNotice, uid: OutboxEntry.uid(.passwordNotice, cause: cause, recipient: recipient),
                         envelopeID: envelopeID, to: MailAddress(address: to), text: text, now: now, body: Self.textAndHTML)
    }

    /// To the envelope's sender: a message was held because a recipient's mailbox is full.
    public func heldNotice(envelope: TunnelEnvelope, recipient: String, subject: String?, now: Date) throws -> OutboxEntry {
        var values: [String: TemplateValue] = ["recipient": .text(recipient), "sender_address": .text(envelope.sender)]
        if config.showSubject, let subject { values["subject"] = .text(HeaderText.clean(subject)) }
        let text = templates.render(.heldNotice, values)
        return try entry(.heldNotice, uid: OutboxEntry.uid(.heldNotice, cause: envelope.id, recipient: recipient),
                         envelopeID: envelope.id, to: MailAddress(address: envelope.sender), text: text, now: now, body: Self.textAndHTML)
    }

    /// After `spoolrun recipient reset`: the new password, to whoever passes it on.
    public func resetNotice(recipient: String, password: String, to: String, now: Date) throws -> OutboxEntry {
        try passwordNotice(recipient: recipient, password: password, to: to, cause: "reset|" + UTCTime.database(now), envelopeID: nil,
                           now: now)
    }

    /// The RFC 3798 disposition notification to the envelope's sender.
    public func readReceipt(_ c: ReceiptContext, readAt: Date, now: Date) throws -> OutboxEntry {
        let text = templates.render(.readReceipt, [
            "recipient": .text(c.recipient), "subject": .text(c.subject.map(HeaderText.clean) ?? ""),
            "sent": .text(c.sent.map(Self.humanDate) ?? ""), "read_at": .text(Self.humanDate(readAt)),
        ])
        let report = DispositionReport(reportingUA: "\(host); spoolrun", originalRecipient: c.recipient,
                                       finalRecipient: c.recipient, originalMessageID: c.originalMessageID)
        return try entry(.readReceipt, uid: OutboxEntry.uid(.readReceipt, cause: c.envelopeID, recipient: c.recipient),
                         envelopeID: c.envelopeID, to: MailAddress(address: c.sender), text: text, now: now,
                         inReplyTo: c.originalMessageID) { .dispositionNotification(text: $0.text, report: report) }
    }

    /// The OTP-PDF mail to a recipient: the PDF attached, its password id and the portal
    /// link, never the password; the sender named as in the notification. `pdf` is let go as soon as the message is written, before it
    /// is sealed: with a PDF of megabytes, the two need not be in memory at once.
    public func otpPDF(envelope: TunnelEnvelope, recipient: String, senderName: String?, senderAddress: String,
                       subject: String?, passwordID: String, pdf: consuming [UInt8], filename: String, firstContact: Bool = false,
                       round: Int = 0, now: Date) throws -> OutboxEntry {
        var values: [String: TemplateValue] = [
            "sender_display": .text(Self.senderDisplay(name: senderName, fromAddress: senderAddress, envelopeSender: envelope.sender)),
            "recipient": .text(recipient), "portal_url": .text(config.portalURL), "password_id": .text(passwordID),
            "sender_address": .text(envelope.sender), "first_contact": .flag(firstContact),
        ]
        if config.showSubject, let subject { values["subject"] = .text(HeaderText.clean(subject)) }
        let text = templates.render(.otpPDF, values)
        let rcpt = MailAddress(address: recipient)
        var mail: OutgoingMail? = OutgoingMail(
            from: from, to: [rcpt], subject: text.subject, date: now,
            body: .withAttachment(text: text.text, html: text.html,
                                  attachment: OutgoingAttachment(filename: filename, mediaType: "application/pdf", data: consume pdf)))
        let message = try mail!.rfc5322()
        mail = nil
        return try sealed(.otpPDF, uid: OutboxEntry.uid(.otpPDF, cause: envelope.id, recipient: recipient, round: round),
                          envelopeID: envelope.id, to: rcpt, message: message, now: now)
    }

    static func humanDate(_ date: Date) -> String { UTCTime.human(date) }
}
