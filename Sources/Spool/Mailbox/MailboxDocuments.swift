// The JSON documents inside a mailbox's sealed objects, as the portal app reads them:
// a message (object "body"), an index entry (object "entry"), and the index file that
// lists the sealed entries. Plain data; sealing and writing happen in MailboxWriter.
import Foundation
import Mail

struct MessageDocument: Encodable {
    struct Address: Encodable {
        let name: String?
        let address: String
    }

    struct Part: Encodable {
        /// The object name of the sealed bytes, e.g. "att-2" or "msg-3".
        let object: String
        let name: String
        let type: String
        let size: Int
        let inline: Bool
        let cid: String?
    }

    let v = 1
    let id: String
    let subject: String?
    let from: [Address]
    let to: [Address]
    let cc: [Address]
    let date: String?
    /// "html" (a sanitized fragment) or "text" (plain text rendered as escaped HTML).
    let format: String
    let body: String
    let blockedRemoteImages: Int
    let attachments: [Part]
    let messages: [Part]
    let problems: [String]
    /// The envelope's internal sender, who gets read receipts.
    let sender: String
    /// The read-receipt token, when the envelope asked for a receipt and the portal sends
    /// them: the app requests /r/<token> once it has shown the message (DESIGN §6).
    let receipt: String?
    /// OTP mode (DESIGN §7): the mailed PDF's password id and password. Without a portal
    /// copy (portal.otp_portal_copy = false) `format` is "none", the body and the part lists
    /// are empty, and no other object of the message is written.
    let otp: OTP?

    struct OTP: Encodable {
        let passwordID: String
        let password: String
        /// The PDF's file name in the mail.
        let file: String
        let portalCopy: Bool
    }

    static func addresses(_ list: [MessageAddress]) -> [Address] { list.map { Address(name: $0.name, address: $0.address) } }
}

struct IndexEntryDocument: Encodable {
    let v = 1
    let id: String
    let subject: String?
    let from: String?
    let date: String?
    let size: Int
    let attachments: Int
    /// OTP mode: the password id of the PDF mailed for this message.
    let otpID: String?
}

struct MailboxIndexDocument: Encodable {
    struct Entry: Encodable {
        let id: String
        let received: String
        /// The render's revision: changes whenever the message's objects are written again, so
        /// the browser may cache `m/<mailbox>/<message>/<object>?r=<rev>` for good. It is a
        /// digest of the sealed entry (fresh randomness each render) and says nothing about content.
        let rev: String
        /// The sealed IndexEntryDocument, unpadded base64url.
        let entry: String
    }

    let v = 1
    let mailbox: String
    /// Newest first.
    let entries: [Entry]
}

enum DocumentJSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try encoder.encode(value))
    }
}
