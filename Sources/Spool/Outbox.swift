// The outbox's records at rest. A password notice carries a first-contact password, and the
// state store may hold no password in clear (DESIGN §8), so every outbox payload is sealed
// with AES-256-GCM under the installation's outbox key (keys/outbox.key, mode 0600). The
// payload is bound to its row's uid and kind, so rows cannot be swapped. Composing and
// delivering the mail is the mail issue's part; this records what must be sent, durably,
// in the same transaction as what caused it.
import Foundation
import Crypto

public struct OutboxEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case passwordNotice = "password-notice" }

    public var uid: String
    public var kind: Kind
    public var envelopeID: String?
    public var mailFrom: String
    public var recipient: String
    /// nonce (12) || AES-256-GCM ciphertext || tag of the payload JSON.
    public var sealed: [UInt8]
    public var createdAt: Date
}

/// What a password notice needs: the recipient it is for and their password. Only ever
/// held in memory or sealed.
public struct PasswordNotice: Codable, Sendable, Equatable {
    public var recipient: String
    public var password: String
    public var envelopeID: String
}

public struct OutboxKey: Sendable {
    let key: [UInt8]

    /// Loads keys/outbox.key, or makes it (32 random bytes, 0600) on first use. A key file
    /// that others can read is refused, like every private key.
    public static func loadOrCreate(path: String) throws -> OutboxKey {
        if FileSystem.exists(path) {
            try KeyFiles.checkPrivateKeyPermissions(path)
            guard let data = FileManager.default.contents(atPath: path), data.count == 32 else {
                throw KeyFileError(path: path, problem: "is not a 32-byte outbox key")
            }
            return OutboxKey(key: [UInt8](data))
        }
        try FileSystem.makeDirectory((path as NSString).deletingLastPathComponent, mode: 0o700)
        let key = SecureRandom.bytes(32)
        try FileSystem.writeAtomically(key, to: path, mode: 0o600)
        return OutboxKey(key: key)
    }

    static func associatedData(uid: String, kind: OutboxEntry.Kind) -> [UInt8] {
        Array("spoolrun/v1/outbox|\(kind.rawValue)|\(uid)".utf8)
    }

    public func passwordNotice(_ notice: PasswordNotice, mailFrom: String, to sender: String, now: Date) throws -> OutboxEntry {
        let uid = Hex.encode(SecureRandom.bytes(16))
        let nonce = SecureRandom.bytes(AESGCM.nonceSize)
        let payload = [UInt8](try JSONEncoder().encode(notice))
        let sealed = try AESGCM.seal(payload, key: key, nonce: nonce, aad: Self.associatedData(uid: uid, kind: .passwordNotice))
        return OutboxEntry(uid: uid, kind: .passwordNotice, envelopeID: notice.envelopeID, mailFrom: mailFrom,
                           recipient: sender, sealed: nonce + sealed, createdAt: now)
    }

    public func openPasswordNotice(_ entry: OutboxEntry) throws -> PasswordNotice {
        guard entry.kind == .passwordNotice, entry.sealed.count > AESGCM.nonceSize else {
            throw CryptoFailure("outbox entry \(entry.uid) is not a sealed password notice")
        }
        let nonce = Array(entry.sealed.prefix(AESGCM.nonceSize))
        let plain = try AESGCM.open(Array(entry.sealed.dropFirst(AESGCM.nonceSize)), key: key, nonce: nonce,
                                    aad: Self.associatedData(uid: entry.uid, kind: entry.kind))
        return try JSONDecoder().decode(PasswordNotice.self, from: Data(plain))
    }
}
