// Read-receipt tokens (DESIGN §6). A token is put only inside the sealed message; the portal
// requests /r/<token> after it has shown the message, and the sweep finds the delivery by the
// token's SHA-256. Tokens are derived (HKDF from the outbox key, per mailbox and message), so
// rendering a message again keeps its token, and nobody without the key can make one.
import Foundation
import Crypto

struct ReceiptTokens: Sendable {
    private let key: [UInt8]
    private let sealer: OutboxKey

    init(key: OutboxKey) throws {
        self.key = try key.derived("receipt-token")
        self.sealer = key
    }

    /// 128 bits, base64url: what /r/ carries.
    func token(mailboxID: String, messageID: String) throws -> String {
        Base64URL.encode(try HKDF.sha256(ikm: key, salt: [], info: Array("\(mailboxID)|\(messageID)".utf8), length: 16))
    }

    static func hash(_ token: String) -> String { SHA256.hex(Array(token.utf8)) }

    static func contextAAD(hash: String) -> [UInt8] { Array("spoolrun/v1/receipt-context|\(hash)".utf8) }

    func receipt(for recipient: RecipientRecord, messageID: String, context: ReceiptContext)
        throws -> (token: String, hash: String, context: [UInt8]) {
        let token = try token(mailboxID: recipient.mailboxID, messageID: messageID)
        let hash = Self.hash(token)
        let sealed = try sealer.seal([UInt8](try JSONEncoder().encode(context)), aad: Self.contextAAD(hash: hash))
        return (token, hash, sealed)
    }

    func context(sealed: [UInt8], hash: String) throws -> ReceiptContext {
        let plain = try sealer.open(sealed, aad: Self.contextAAD(hash: hash), what: "a read-receipt record")
        return try JSONDecoder().decode(ReceiptContext.self, from: Data(plain))
    }
}
