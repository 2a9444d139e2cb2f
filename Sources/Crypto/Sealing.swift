// Sealed mailboxes (DESIGN §5), exactly as docs/sealed-format.md specifies: the login
// derivation, the key bundle that wraps a recipient's private key, and sealed objects.
// Every construction here must stay byte-compatible with www/assets/sealed.js.
import Foundation

public enum SealedFormat {
    public static let version = 1
    /// PBKDF2 iterations for a login (OWASP 2023 guidance for PBKDF2-HMAC-SHA-256).
    public static let loginIterations = 600_000
    static let objectMagic: [UInt8] = Array("SPR1".utf8)

    /// What a sealed object is bound to: swapping files between mailboxes, messages or
    /// object names makes the AES-GCM tag fail.
    public struct ObjectContext: Sendable, Equatable {
        public var mailboxID: String
        public var messageID: String
        public var objectName: String
        public init(mailboxID: String, messageID: String, objectName: String) {
            self.mailboxID = mailboxID
            self.messageID = messageID
            self.objectName = objectName
        }
        /// Joined with "|", which no valid id contains, so the bytes name one place only.
        func associatedData() throws -> [UInt8] {
            for id in [mailboxID, messageID, objectName] where !SealedFormat.isValidID(id) {
                throw CryptoFailure("\"\(id)\" is not a valid id: 1-128 characters of A-Z a-z 0-9 . _ -")
            }
            return Array("spoolrun/v1/object|\(mailboxID)|\(messageID)|\(objectName)".utf8)
        }
    }

    /// Ids that name mailboxes, messages and objects: 1-128 characters of [A-Za-z0-9._-].
    public static func isValidID(_ id: String) -> Bool {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-".utf8)
        return (1...128).contains(id.utf8.count) && id.utf8.allSatisfy(allowed.contains)
    }

    /// Seals `plaintext` to `recipient`: "SPR1" || ephemeral public point (65) || nonce (12)
    /// || AES-256-GCM ciphertext || tag. `ephemeral` and `nonce` are for test vectors only.
    public static func seal(_ plaintext: [UInt8], to recipient: P256PublicKey, context: ObjectContext,
                            ephemeral: P256KeyPair? = nil, nonce: [UInt8]? = nil) throws -> [UInt8] {
        let eph = try ephemeral ?? P256KeyPair.generate()
        let nonce = nonce ?? SecureRandom.bytes(AESGCM.nonceSize)
        let ephPoint = eph.publicPoint
        let key = try objectKey(shared: try eph.sharedSecret(with: recipient), ephemeral: ephPoint, recipient: recipient.point)
        // One allocation for the whole object: a sealed attachment or .eml can be tens of MB.
        return try AESGCM.seal(plaintext, key: key, nonce: nonce, aad: try context.associatedData(),
                               after: objectMagic + ephPoint + nonce)
    }

    /// The bytes of `seal`, handed to `output` in pieces (the header, the ciphertext in chunks
    /// of at most `chunkSize`, the tag) rather than returned, so that a large attachment or
    /// .eml can be sealed straight into its file without a sealed copy of it in memory.
    public static func seal(_ plaintext: [UInt8], to recipient: P256PublicKey, context: ObjectContext,
                            ephemeral: P256KeyPair? = nil, nonce: [UInt8]? = nil, chunkSize: Int = 1 << 20,
                            output: (UnsafeRawBufferPointer) throws -> Void) throws {
        let eph = try ephemeral ?? P256KeyPair.generate()
        let nonce = nonce ?? SecureRandom.bytes(AESGCM.nonceSize)
        let ephPoint = eph.publicPoint
        let key = try objectKey(shared: try eph.sharedSecret(with: recipient), ephemeral: ephPoint, recipient: recipient.point)
        let aad = try context.associatedData()
        try (objectMagic + ephPoint + nonce).withUnsafeBytes { try output($0) }
        try AESGCM.seal(plaintext, key: key, nonce: nonce, aad: aad, chunkSize: chunkSize, output: output)
    }

    /// Opens a sealed object; throws when it is truncated, altered, or sealed for another
    /// recipient or another place.
    public static func open(_ sealed: [UInt8], with recipient: P256KeyPair, context: ObjectContext) throws -> [UInt8] {
        let header = 4 + 65 + AESGCM.nonceSize
        guard sealed.count >= header + AESGCM.tagSize, Array(sealed.prefix(4)) == objectMagic else {
            throw CryptoFailure("not a sealed object (bad header or truncated)")
        }
        let ephemeral = try P256PublicKey(point: Array(sealed[4..<69]))
        let nonce = Array(sealed[69..<header])
        let key = try objectKey(shared: try recipient.sharedSecret(with: ephemeral), ephemeral: ephemeral.point,
                                recipient: recipient.publicPoint)
        return try AESGCM.open(Array(sealed[header...]), key: key, nonce: nonce, aad: try context.associatedData())
    }

    static func objectKey(shared: [UInt8], ephemeral: [UInt8], recipient: [UInt8]) throws -> [UInt8] {
        try HKDF.sha256(ikm: shared, salt: ephemeral + recipient, info: Array("spoolrun/v1/seal".utf8), length: 32)
    }
}

/// What a recipient's address and password yield: where their key bundle lives and the
/// key that unwraps it. One PBKDF2 run per sign-in, by design.
public struct RecipientLogin: Sendable {
    /// 64 hex digits: the bundle's file name is `k/<locator>.json`.
    public let locator: String
    let wrapKey: [UInt8]

    /// `address` must already be normalised (trimmed, lower-cased).
    public static func derive(address: String, password: String, installationSalt: [UInt8],
                              iterations: Int = SealedFormat.loginIterations) throws -> RecipientLogin {
        guard installationSalt.count == 32 else { throw CryptoFailure("the installation salt has 32 bytes") }
        let salt = Array("spoolrun/v1/login".utf8) + installationSalt + Array(address.utf8)
        let master = try PBKDF2.sha256(password: Array(password.utf8), salt: salt, iterations: iterations, length: 32)
        let locator = try HKDF.sha256(ikm: master, salt: [], info: Array("spoolrun/v1/locator".utf8), length: 32)
        let wrap = try HKDF.sha256(ikm: master, salt: [], info: Array("spoolrun/v1/wrap".utf8), length: 32)
        return RecipientLogin(locator: Hex.encode(locator), wrapKey: wrap)
    }
}

/// A recipient's private key, wrapped under their login, published as `k/<locator>.json`.
public struct KeyBundle: Sendable, Equatable {
    public var mailboxID: String
    public var publicPoint: [UInt8]
    public var nonce: [UInt8]
    public var wrapped: [UInt8]

    static func associatedData(mailboxID: String) -> [UInt8] { Array("spoolrun/v1/bundle|\(mailboxID)".utf8) }

    public static func wrap(_ keyPair: P256KeyPair, login: RecipientLogin, mailboxID: String,
                            nonce: [UInt8]? = nil) throws -> KeyBundle {
        guard SealedFormat.isValidID(mailboxID) else { throw CryptoFailure("\"\(mailboxID)\" is not a valid mailbox id") }
        let nonce = nonce ?? SecureRandom.bytes(AESGCM.nonceSize)
        let wrapped = try AESGCM.seal(keyPair.privateScalar, key: login.wrapKey, nonce: nonce,
                                      aad: associatedData(mailboxID: mailboxID))
        return KeyBundle(mailboxID: mailboxID, publicPoint: keyPair.publicPoint, nonce: nonce, wrapped: wrapped)
    }

    public func unwrap(with login: RecipientLogin) throws -> P256KeyPair {
        guard SealedFormat.isValidID(mailboxID) else { throw CryptoFailure("\"\(mailboxID)\" is not a valid mailbox id") }
        let d = try AESGCM.open(wrapped, key: login.wrapKey, nonce: nonce, aad: Self.associatedData(mailboxID: mailboxID))
        let pair = try P256KeyPair(privateScalar: d)
        guard pair.publicPoint == publicPoint else { throw CryptoFailure("the key bundle's public key does not match") }
        return pair
    }

    /// The bundle file: `{"v":1,"mailbox":…,"pub":…,"nonce":…,"wrapped":…}`, binary fields
    /// in unpadded base64url. A valid mailbox id needs no JSON escaping.
    public func json() -> [UInt8] {
        let text = "{\"v\":1,\"mailbox\":\"\(mailboxID)\",\"pub\":\"\(Base64URL.encode(publicPoint))\","
            + "\"nonce\":\"\(Base64URL.encode(nonce))\",\"wrapped\":\"\(Base64URL.encode(wrapped))\"}"
        return Array(text.utf8)
    }

    public init(mailboxID: String, publicPoint: [UInt8], nonce: [UInt8], wrapped: [UInt8]) {
        self.mailboxID = mailboxID
        self.publicPoint = publicPoint
        self.nonce = nonce
        self.wrapped = wrapped
    }

    public init(json: [UInt8]) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
              object["v"] as? Int == 1, let mailbox = object["mailbox"] as? String,
              let pub = (object["pub"] as? String).flatMap(Base64URL.decode),
              let nonce = (object["nonce"] as? String).flatMap(Base64URL.decode),
              let wrapped = (object["wrapped"] as? String).flatMap(Base64URL.decode) else {
            throw CryptoFailure("not a version 1 key bundle")
        }
        self.init(mailboxID: mailbox, publicPoint: pub, nonce: nonce, wrapped: wrapped)
    }
}

public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Unpadded base64url (RFC 4648 §5), written directly: every index entry and key bundle
    /// goes through here.
    public static func encode(_ bytes: [UInt8]) -> String {
        let count = (bytes.count * 4 + 2) / 3
        return String(unsafeUninitializedCapacity: count) { out in
            var o = 0
            var i = 0
            func put(_ sextet: UInt32) {
                out[o] = alphabet[Int(sextet & 63)]
                o += 1
            }
            while i + 3 <= bytes.count {
                let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                put(v >> 18); put(v >> 12); put(v >> 6); put(v)
                i += 3
            }
            switch bytes.count - i {
            case 1:
                let v = UInt32(bytes[i]) << 16
                put(v >> 18); put(v >> 12)
            case 2:
                let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
                put(v >> 18); put(v >> 12); put(v >> 6)
            default: break
            }
            return o
        }
    }

    /// Unpadded base64url only (docs/sealed-format.md), as the browser's decoder: "=", "+",
    /// "/" and anything outside the alphabet make it nil.
    public static func decode(_ text: String) -> [UInt8]? {
        guard text.utf8.count % 4 != 1, text.utf8.allSatisfy({ c in
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
        }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { [UInt8]($0) }
    }
}
