// What the portal renders from an original RFC 5322 message: headers decoded to UTF-8, the
// text and HTML bodies, attachments, inline (cid:) parts and embedded messages. No GMime
// type appears here; MessageParser+GMime.swift does the reading.
import Foundation

/// The limits of DESIGN §8 that apply to one message's MIME structure.
public struct MIMELimits: Sendable, Equatable {
    /// Nesting levels: the message body is level 1, the children of a multipart (and the body
    /// of an embedded message) are one level deeper than their parent.
    public var maxDepth = 32
    /// Entities counted across the whole message, embedded messages included: every leaf,
    /// every multipart and every message/rfc822 part.
    public var maxParts = 1000
    /// Bytes of one header block (a message's or a body part's header fields).
    public var maxHeaderBytes = 1 << 20

    public init() {}
}

public struct MessageAddress: Sendable, Equatable {
    /// The display name, RFC 2047 decoded; nil when there is none.
    public let name: String?
    /// The addr-spec as written (not lower-cased).
    public let address: String

    public init(name: String?, address: String) {
        self.name = name
        self.address = address
    }
}

/// An HTML body as sent: the sanitizer converts it, so it gets the bytes and the charset the
/// part declared. When several HTML parts had to be joined, they were converted to UTF-8
/// first and `charset` is "utf-8".
public struct HTMLBody: Sendable, Equatable {
    public let bytes: [UInt8]
    public let charset: String?

    public init(bytes: [UInt8], charset: String?) {
        self.bytes = bytes
        self.charset = charset
    }
}

public struct Attachment: Sendable, Equatable {
    /// The download's number: attachments and embedded messages are numbered together from
    /// 1 in the order they appear, across the whole message (the attachments of an embedded
    /// message included), so that a number names one download.
    public let index: Int
    /// RFC 2231/2047 decoded, then made safe: no path, no control or bidi characters, no
    /// leading dots; "attachment-N.ext" when nothing usable is left.
    public let filename: String
    /// "type/subtype", lower-cased.
    public let mediaType: String
    /// The content with its Content-Transfer-Encoding undone (no charset conversion).
    public let data: [UInt8]
    /// The Content-ID without angle brackets, for resolving `cid:` URLs.
    public let contentID: String?
    /// True for the non-root parts of a multipart/related: they belong to the body (images
    /// referenced by `cid:`), rather than being offered as downloads in their own right.
    public let isInline: Bool

    public init(index: Int, filename: String, mediaType: String, data: [UInt8], contentID: String?, isInline: Bool) {
        self.index = index
        self.filename = filename
        self.mediaType = mediaType
        self.data = data
        self.contentID = contentID
        self.isInline = isInline
    }
}

public struct EmbeddedMessage: Sendable, Equatable {
    /// Numbered together with the attachments.
    public let index: Int
    /// The embedded message for download as .eml, byte for byte as it was sent (cut from the
    /// enclosing message, or the decoded content when the part was base64 or quoted-printable
    /// encoded), so that its own signatures still verify. Only when GMime kept no offsets for
    /// it (an embedded message without header fields) is it GMime's re-serialisation.
    public let raw: [UInt8]
    /// The embedded message read the same way, within the depth and parts limits of the
    /// outer message; nil when it could not be read or would exceed the memory budget.
    public let parsed: ParsedMessage?
    /// As for attachments; "attachment-N.eml" when the part names no file.
    public let filename: String

    public init(index: Int, raw: [UInt8], parsed: ParsedMessage?, filename: String) {
        self.index = index
        self.raw = raw
        self.parsed = parsed
        self.filename = filename
    }
}

public struct ParsedMessage: Sendable, Equatable {
    /// RFC 2047 decoded, UTF-8.
    public var subject: String?
    public var from: [MessageAddress] = []
    public var to: [MessageAddress] = []
    public var cc: [MessageAddress] = []
    public var replyTo: [MessageAddress] = []
    public var date: Date?
    /// Without angle brackets.
    public var messageID: String?
    /// The text/plain body parts in order, converted to UTF-8, line ends as LF, format=flowed
    /// (RFC 3676) unwrapped.
    public var textBody: String?
    public var htmlBody: HTMLBody?
    public var attachments: [Attachment] = []
    public var embeddedMessages: [EmbeddedMessage] = []
    /// Notes on what could not be read as sent ("part 1.2: unknown charset x-foo, shown as
    /// Latin-1 (Windows-1252)"). They name parts by their IMAP part number, never content.
    public var problems: [String] = []

    public init() {}
}

public enum MessageParser {
    /// Reads an original message. Whatever can be read is returned, with notes in `problems`
    /// for the rest. Throws `MIMEError` when the input is empty or nothing can be read, or
    /// when a limit is exceeded; the error names the limit.
    public static func parse(_ bytes: [UInt8], limits: MIMELimits = .init()) throws -> ParsedMessage {
        guard !bytes.isEmpty else { throw MIMEError("the message is empty") }
        let reader = MessageReader(limits: limits, inputSize: bytes.count)
        guard let parsed = try reader.read(bytes, pathPrefix: "", depth: 1) else {
            throw MIMEError("no part of the message could be read")
        }
        return parsed
    }
}

extension MIMEError {
    /// The errors for exceeded limits share these phrases, so that callers and tests can tell
    /// which limit it was.
    static func depthLimit(_ limit: Int) -> MIMEError {
        MIMEError("the MIME structure nests deeper than \(limit) levels (MIME depth limit)")
    }

    static func partsLimit(_ limit: Int) -> MIMEError {
        MIMEError("the message has more than \(limit) MIME parts (MIME parts limit)")
    }

    static func headerLimit(_ limit: Int) -> MIMEError {
        MIMEError("a header block is larger than \(limit) bytes (header block limit)")
    }
}
