// The outbox's records at rest (DESIGN §6, §8). Each row holds one complete outgoing message
// (RFC 5322 bytes, composed when it was queued), sealed with AES-256-GCM under the
// installation's outbox key (keys/outbox.key, mode 0600): a password notice carries a
// first-contact password and a notification may carry a subject, and the state store holds
// neither in clear. The seal is bound to the row's uid and kind, so rows cannot be swapped.
//
// Row uids are derived from what caused the mail (kind, envelope, recipient), and the store
// inserts a uid once only: a crash and a re-run, or rendering a message again, cannot queue
// the same mail twice.
import Foundation
import Crypto
import Tunnel

public struct OutboxEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case notification
        case passwordNotice = "password-notice"
        case readReceipt = "read-receipt"
        case otpPDF = "otp-pdf"
        case heldNotice = "held-notice"
    }

    public enum State: String, Sendable {
        case queued, sent, failed
    }

    public var uid: String
    public var kind: Kind
    public var envelopeID: String?
    public var mailFrom: String
    public var recipient: String
    /// nonce (12) || AES-256-GCM ciphertext || tag of the message bytes. Empty in an entry
    /// read back without it (StateStore.sealedPayload reads it).
    public var sealed: [UInt8]
    /// For a large mail: the file under the state directory that holds `sealed`.
    public var payloadFile: String?
    public var createdAt: Date
    public var state: State = .queued
    public var attempts: Int = 0
    public var nextAttemptAt: Date?
    public var lastError: String?
    public var sentAt: Date?
    /// When an administrator last asked for a retry: the give-up time counts from here.
    public var retriedAt: Date?

    public init(uid: String, kind: Kind, envelopeID: String?, mailFrom: String, recipient: String, sealed: [UInt8],
                createdAt: Date) {
        self.uid = uid
        self.kind = kind
        self.envelopeID = envelopeID
        self.mailFrom = mailFrom
        self.recipient = recipient
        self.sealed = sealed
        self.createdAt = createdAt
    }

    /// The uid of the one mail of `kind` that `cause` (an envelope id, or a delivery) can
    /// produce for `recipient`. `round` tells deliberate repeats apart (`reprocess --notify`).
    public static func uid(_ kind: Kind, cause: String, recipient: String, round: Int = 0) -> String {
        let text = "spoolrun/v1/outbox-uid|\(kind.rawValue)|\(cause)|\(recipient)" + (round == 0 ? "" : "|\(round)")
        return String(SHA256.hex(Array(text.utf8)).prefix(32))
    }
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

    /// A queued entry holding `message`, sealed.
    public func entry(_ kind: OutboxEntry.Kind, uid: String, message: [UInt8], envelopeID: String?, mailFrom: String,
                      to recipient: String, now: Date) throws -> OutboxEntry {
        OutboxEntry(uid: uid, kind: kind, envelopeID: envelopeID, mailFrom: mailFrom, recipient: recipient,
                    sealed: try seal(message, aad: Self.associatedData(uid: uid, kind: kind)), createdAt: now)
    }

    /// The message bytes of an entry whose payload is in hand.
    public func message(of entry: OutboxEntry) throws -> [UInt8] {
        try message(of: entry, sealed: entry.sealed)
    }

    /// The message bytes of an entry, from its sealed payload (StateStore.sealedPayload).
    public func message(of entry: OutboxEntry, sealed: [UInt8]) throws -> [UInt8] {
        try open(sealed, aad: Self.associatedData(uid: entry.uid, kind: entry.kind), what: "outbox entry \(entry.uid)")
    }

    /// Sealing for other small records of the state store (read-receipt contexts).
    func seal(_ plaintext: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        let nonce = SecureRandom.bytes(AESGCM.nonceSize)
        // Nonce and ciphertext in one allocation: an entry may carry a PDF of megabytes.
        return try AESGCM.seal(plaintext, key: key, nonce: nonce, aad: aad, after: nonce)
    }

    func open(_ sealed: [UInt8], aad: [UInt8], what: String) throws -> [UInt8] {
        guard sealed.count > AESGCM.nonceSize else { throw CryptoFailure("\(what) is not sealed") }
        do {
            return try AESGCM.open(sealed, after: AESGCM.nonceSize, key: key, nonce: Array(sealed.prefix(AESGCM.nonceSize)), aad: aad)
        } catch {
            throw CryptoFailure("\(what) does not open with this installation's outbox key")
        }
    }

    /// A key for another purpose, derived from this one (HKDF-SHA-256 with `label`).
    func derived(_ label: String) throws -> [UInt8] {
        try HKDF.sha256(ikm: key, salt: [], info: Array("spoolrun/v1/\(label)".utf8), length: 32)
    }
}
