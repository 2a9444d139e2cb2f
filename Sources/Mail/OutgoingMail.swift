// MIME out: the portal's own mail (notifications, password notices, read receipts, OTP-PDF
// mail), described in Swift and written as RFC 5322 by GMime (DESIGN §6). Every message gets
// Date, Message-ID, MIME-Version and `Auto-Submitted: auto-generated` (RFC 3834); names and
// subjects outside ASCII are RFC 2047 encoded by GMime. Text that came from outside (display
// names, subjects, file names) loses every control character first, CR and LF included, so
// nothing in it can end a header and start another one.
import Foundation

public struct MailAddress: Sendable, Equatable {
    public var name: String?
    public var address: String

    public init(name: String? = nil, address: String) {
        self.name = name
        self.address = address
    }
}

public struct OutgoingAttachment: Sendable, Equatable {
    public var filename: String
    public var mediaType: String
    public var data: [UInt8]

    public init(filename: String, mediaType: String, data: [UInt8]) {
        self.filename = filename
        self.mediaType = mediaType
        self.data = data
    }
}

/// The machine-readable part of an RFC 3798 disposition notification.
public struct DispositionReport: Sendable, Equatable {
    public var reportingUA: String
    public var originalRecipient: String?
    public var finalRecipient: String
    public var originalMessageID: String?
    /// RFC 3798 §3.2.6, e.g. "manual-action/MDN-sent-manually; displayed".
    public var disposition: String

    public init(reportingUA: String, originalRecipient: String?, finalRecipient: String, originalMessageID: String?,
                disposition: String = "manual-action/MDN-sent-manually; displayed") {
        self.reportingUA = reportingUA
        self.originalRecipient = originalRecipient
        self.finalRecipient = finalRecipient
        self.originalMessageID = originalMessageID
        self.disposition = disposition
    }
}

public struct OutgoingMail: Sendable {
    public enum Body: Sendable {
        /// text/plain only.
        case text(String)
        /// multipart/alternative: text/plain, then text/html.
        case alternative(text: String, html: String)
        /// multipart/mixed: the text (or text + HTML alternative), then one attachment.
        case withAttachment(text: String, html: String?, attachment: OutgoingAttachment)
        /// multipart/report; report-type=disposition-notification (RFC 3798 §3).
        case dispositionNotification(text: String, report: DispositionReport)
    }

    public var from: MailAddress
    public var to: [MailAddress]
    public var subject: String
    public var date: Date
    /// Without angle brackets; made from random bytes when nil.
    public var messageID: String?
    /// The message this one answers (MDNs), without angle brackets.
    public var inReplyTo: String?
    public var body: Body

    public init(from: MailAddress, to: [MailAddress], subject: String, date: Date, messageID: String? = nil,
                inReplyTo: String? = nil, body: Body) {
        self.from = from
        self.to = to
        self.subject = subject
        self.date = date
        self.messageID = messageID
        self.inReplyTo = inReplyTo
        self.body = body
    }

    /// The message as RFC 5322 bytes with LF line ends, as `sendmail -i` takes it on stdin.
    public func rfc5322() throws -> [UInt8] {
        for a in [from] + to where !HeaderText.isSafeAddress(a.address) {
            throw MIMEError("\"\(HeaderText.clean(a.address))\" cannot be used as a mail address")
        }
        if let id = messageID, !HeaderText.isSafeMessageID(id) { throw MIMEError("\"\(HeaderText.clean(id))\" cannot be used as a Message-ID") }
        return MailWriter.write(self)
    }
}

/// Cleaning text that goes into a header.
public enum HeaderText {
    /// Every control character (C0, DEL, C1, and the Unicode line and paragraph separators)
    /// becomes a space, runs of spaces collapse, and the ends are trimmed.
    public static func clean(_ s: String) -> String {
        var out = ""
        var lastWasSpace = false
        for scalar in s.unicodeScalars {
            let v = scalar.value
            let isControl = v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029 || v == 0x85
            if isControl || scalar == " " {
                if !lastWasSpace && !out.isEmpty { out.append(" ") }
                lastWasSpace = true
            } else {
                out.unicodeScalars.append(scalar)
                lastWasSpace = false
            }
        }
        while out.hasSuffix(" ") { out.removeLast() }
        return out
    }

    /// An addr-spec safe to put in a header and on a command line: printable ASCII only, no
    /// spaces, angle brackets, commas, quotes or semicolons, exactly one "@", and not
    /// starting with "-" (it could be read as an option by sendmail).
    public static func isSafeAddress(_ a: String) -> Bool {
        guard !a.isEmpty, a.utf8.count <= 254, !a.hasPrefix("-") else { return false }
        guard a.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !forbidden.contains($0) }) else { return false }
        let parts = a.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
    }

    private static let forbidden = Set("<>,;\"()[]\\:".utf8)

    static func isSafeMessageID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 250 && id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") }
            && id.contains("@")
    }
}
