// The primitives that OpenSSL 3.0 and WebCrypto share (DESIGN §5): P-256 keys in raw form,
// ECDH, HKDF-SHA-256, AES-256-GCM and PBKDF2-HMAC-SHA-256. docs/sealed-format.md fixes how
// each is used; this file only wraps libcrypto.
import Foundation
internal import COpenSSL

/// A C string that lives as long as the program. OSSL_PARAM and OSSL_PARAM_BLD keep the
/// pointers they are given (names and values) instead of copying them, so the temporary
/// pointer Swift makes for a String argument would dangle after the call.
@inline(__always) func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

public struct CryptoFailure: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A P-256 key pair, as the portal's recipients have them.
public final class P256KeyPair: @unchecked Sendable {
    // @unchecked Sendable: the EVP_PKEY is immutable after creation (see PrivateKey).
    let key: PrivateKey

    init(key: PrivateKey) { self.key = key }

    public static func generate() throws -> P256KeyPair { P256KeyPair(key: try PrivateKey.generate(.p256)) }

    /// The key with private scalar `d` (32 bytes, big-endian), as a test vector gives it.
    public convenience init(privateScalar d: [UInt8]) throws {
        guard d.count == 32 else { throw CryptoFailure("a P-256 private scalar has 32 bytes") }
        OpenSSLErrorQueue.clear()
        // The public point is d·G; OpenSSL computes it when only the scalar is given
        // through EC_KEY, so derive it there and hand both to fromdata.
        guard let group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1) else { throw OpenSSLError.drain("EC group") }
        defer { EC_GROUP_free(group) }
        let bn = BN_bin2bn(d, 32, nil)
        defer { BN_clear_free(bn) }
        guard let point = EC_POINT_new(group) else { throw OpenSSLError.drain("EC_POINT_new") }
        defer { EC_POINT_free(point) }
        guard EC_POINT_mul(group, point, bn, nil, nil, nil) == 1 else { throw OpenSSLError.drain("EC_POINT_mul") }
        var pub = [UInt8](repeating: 0, count: 65)
        guard EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, &pub, 65, nil) == 65 else {
            throw OpenSSLError.drain("EC_POINT_point2oct")
        }
        self.init(key: try Self.fromData(publicPoint: pub, privateScalar: bn))
    }

    /// The 65-byte uncompressed point (0x04 || X || Y): WebCrypto's "raw" format.
    public var publicPoint: [UInt8] { Self.publicPoint(of: key.ref) }

    /// The 32-byte private scalar, big-endian.
    public var privateScalar: [UInt8] {
        var bn: OpaquePointer? = nil
        guard EVP_PKEY_get_bn_param(key.ref, "priv", &bn) == 1, let bn else { return [] }
        defer { BN_clear_free(bn) }
        var out = [UInt8](repeating: 0, count: 32)
        BN_bn2binpad(bn, &out, 32)
        return out
    }

    public var publicKey: P256PublicKey { try! P256PublicKey(point: publicPoint) }

    /// ECDH: the 32-byte x-coordinate of the shared point, as WebCrypto's deriveBits gives it.
    public func sharedSecret(with peer: P256PublicKey) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard let ctx = EVP_PKEY_CTX_new(key.ref, nil) else { throw OpenSSLError.drain("EVP_PKEY_CTX_new") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_derive_init(ctx) == 1, EVP_PKEY_derive_set_peer(ctx, peer.key.ref) == 1 else {
            throw OpenSSLError.drain("ECDH init")
        }
        var length = 0
        guard EVP_PKEY_derive(ctx, nil, &length) == 1 else { throw OpenSSLError.drain("ECDH length") }
        var out = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_derive(ctx, &out, &length) == 1 else { throw OpenSSLError.drain("ECDH") }
        return Array(out.prefix(length))
    }

    static func publicPoint(of pkey: OpaquePointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 65)
        var length = 0
        guard EVP_PKEY_get_octet_string_param(pkey, "encoded-pub-key", &out, 65, &length) == 1 else { return [] }
        return Array(out.prefix(length))
    }

    static func fromData(publicPoint: [UInt8], privateScalar: OpaquePointer?) throws -> PrivateKey {
        guard let bld = OSSL_PARAM_BLD_new() else { throw OpenSSLError.drain("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(bld) }
        // The builder keeps pointers until OSSL_PARAM_BLD_to_param copies the data, so the
        // point's buffer must stay borrowed until then.
        let params: UnsafeMutablePointer<OSSL_PARAM>? = publicPoint.withUnsafeBytes { point in
            OSSL_PARAM_BLD_push_utf8_string(bld, cString("group"), cString("prime256v1"), 0)
            OSSL_PARAM_BLD_push_octet_string(bld, cString("pub"), point.baseAddress, point.count)
            if let privateScalar { OSSL_PARAM_BLD_push_BN(bld, cString("priv"), privateScalar) }
            return OSSL_PARAM_BLD_to_param(bld)
        }
        guard let params else { throw OpenSSLError.drain("OSSL_PARAM_BLD_to_param") }
        defer { OSSL_PARAM_free(params) }
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { throw OpenSSLError.drain("EC context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer? = nil
        let selection = privateScalar == nil ? spoolrun_EVP_PKEY_PUBLIC_KEY() : spoolrun_EVP_PKEY_KEYPAIR()
        guard EVP_PKEY_fromdata_init(ctx) == 1, EVP_PKEY_fromdata(ctx, &pkey, selection, params) == 1, let pkey else {
            throw OpenSSLError.drain("not a valid P-256 key")
        }
        return PrivateKey(taking: pkey)
    }
}

/// A P-256 public key from its 65-byte uncompressed point.
public final class P256PublicKey: @unchecked Sendable {
    // @unchecked Sendable: immutable after creation.
    let key: PrivateKey  // an EVP_PKEY holding only the public half
    public let point: [UInt8]

    public init(point: [UInt8]) throws {
        guard point.count == 65, point[0] == 4 else { throw CryptoFailure("a P-256 public key is a 65-byte uncompressed point") }
        OpenSSLErrorQueue.clear()
        key = try P256KeyPair.fromData(publicPoint: point, privateScalar: nil)
        self.point = point
    }
}

public enum HKDF {
    /// HKDF-SHA-256 (RFC 5869), extract and expand.
    public static func sha256(ikm: [UInt8], salt: [UInt8], info: [UInt8], length: Int) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else { throw OpenSSLError.drain("EVP_KDF_fetch HKDF") }
        defer { EVP_KDF_free(kdf) }
        guard let ctx = EVP_KDF_CTX_new(kdf) else { throw OpenSSLError.drain("EVP_KDF_CTX_new") }
        defer { EVP_KDF_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: length)
        var ikm = ikm, salt = salt, info = info
        let ok = ikm.withUnsafeMutableBytes { k in
            salt.withUnsafeMutableBytes { s in
                info.withUnsafeMutableBytes { i in
                    do {
                        var params = [
                            OSSL_PARAM_construct_utf8_string(cString("digest"), UnsafeMutablePointer(mutating: cString("SHA256")), 0),
                            OSSL_PARAM_construct_octet_string(cString("key"), k.baseAddress, k.count),
                            OSSL_PARAM_construct_octet_string(cString("info"), i.baseAddress, i.count),
                        ]
                        // An empty salt is left out: RFC 5869 §2.2 then uses HashLen zero
                        // bytes, which HMAC treats exactly like an empty key.
                        if s.count > 0 { params.append(OSSL_PARAM_construct_octet_string(cString("salt"), s.baseAddress, s.count)) }
                        params.append(OSSL_PARAM_construct_end())
                        return EVP_KDF_derive(ctx, &out, length, params)
                    }
                }
            }
        }
        guard ok == 1 else { throw OpenSSLError.drain("HKDF") }
        return out
    }
}

public enum PBKDF2 {
    /// PBKDF2-HMAC-SHA-256 (RFC 8018 §5.2).
    public static func sha256(password: [UInt8], salt: [UInt8], iterations: Int, length: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let ok = password.withUnsafeBufferPointer { p in
            PKCS5_PBKDF2_HMAC(p.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                              Int32(p.count), salt, Int32(salt.count), Int32(iterations), EVP_sha256(), Int32(length), &out)
        }
        guard ok == 1 else { throw OpenSSLError.drain("PBKDF2") }
        return out
    }
}

public enum AESGCM {
    public static let nonceSize = 12
    public static let tagSize = 16

    /// AES-256-GCM; returns ciphertext || tag, as WebCrypto's encrypt does.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        try seal(plaintext, key: key, nonce: nonce, aad: aad, after: [])
    }

    /// `prefix` || ciphertext || tag in one allocation: a sealed object's header goes in front
    /// without copying a large ciphertext a second time.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8], after prefix: [UInt8]) throws -> [UInt8] {
        try checkParameters(key: key, nonce: nonce)
        let total = prefix.count + plaintext.count + tagSize
        return try [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            let base = out.baseAddress!
            if !prefix.isEmpty { prefix.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: $0.count) } }
            try plaintext.withUnsafeBufferPointer { input in
                try run(encrypt: true, input, key: key, nonce: nonce, aad: aad,
                        into: UnsafeMutableBufferPointer(rebasing: out[prefix.count...]))
            }
            initialized = total
        }
    }

    /// The bytes of `seal`, handed to `output` in pieces (ciphertext in chunks of at most
    /// `chunkSize`, then the tag) instead of returned: a large object can be written out
    /// without a second copy of its size in memory.
    static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8], chunkSize: Int,
                     output: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(chunkSize > 0 && chunkSize <= 1 << 30, "AES-GCM chunk size")
        let ctx = try context(encrypt: true, key: key, nonce: nonce, aad: aad)
        defer { EVP_CIPHER_CTX_free(ctx) }
        // Room for one chunk of ciphertext, and for the tag at the end.
        var buffer = [UInt8](repeating: 0, count: max(min(chunkSize, plaintext.count), tagSize))
        try plaintext.withUnsafeBufferPointer { input in
            var done = 0
            while done < input.count {
                let count = min(input.count - done, chunkSize)
                var n: Int32 = 0
                try buffer.withUnsafeMutableBufferPointer { out in
                    guard EVP_EncryptUpdate(ctx, out.baseAddress, &n, input.baseAddress! + done, Int32(count)) == 1,
                          n == Int32(count) else { throw OpenSSLError.drain("AES-GCM update") }
                    try output(UnsafeRawBufferPointer(start: out.baseAddress, count: count))
                }
                done += count
            }
        }
        try buffer.withUnsafeMutableBufferPointer { out in
            var n: Int32 = 0
            guard EVP_EncryptFinal_ex(ctx, out.baseAddress, &n) == 1, n == 0 else { throw OpenSSLError.drain("AES-GCM final") }
            guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(tagSize), out.baseAddress) == 1 else {
                throw OpenSSLError.drain("AES-GCM tag")
            }
            try output(UnsafeRawBufferPointer(start: out.baseAddress, count: tagSize))
        }
    }

    /// Opens ciphertext || tag; throws when the tag does not match.
    public static func open(_ sealed: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        try open(sealed, after: 0, key: key, nonce: nonce, aad: aad)
    }

    /// `open` of the bytes of `sealed` after its first `prefixLength` (a header, a nonce),
    /// without copying them out first: a sealed message may be tens of MB.
    public static func open(_ sealed: [UInt8], after prefixLength: Int, key: [UInt8], nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        guard prefixLength >= 0, sealed.count - prefixLength >= tagSize else { throw CryptoFailure("sealed data is shorter than its tag") }
        try checkParameters(key: key, nonce: nonce)
        let count = sealed.count - prefixLength - tagSize
        return try [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            try sealed.withUnsafeBufferPointer { whole in
                try run(encrypt: false, UnsafeBufferPointer(rebasing: whole[prefixLength...]), key: key, nonce: nonce, aad: aad, into: out)
            }
            initialized = count
        }
    }

    /// A cipher context with key, nonce and associated data set; the caller frees it.
    private static func context(encrypt: Bool, key: [UInt8], nonce: [UInt8], aad: [UInt8]) throws -> OpaquePointer {
        try checkParameters(key: key, nonce: nonce)
        OpenSSLErrorQueue.clear()
        guard let ctx = EVP_CIPHER_CTX_new() else { throw OpenSSLError.drain("EVP_CIPHER_CTX_new") }
        var n: Int32 = 0
        let initOK = encrypt ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce)
                             : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce)
        guard initOK == 1 else {
            EVP_CIPHER_CTX_free(ctx)
            throw OpenSSLError.drain("AES-GCM init")
        }
        if !aad.isEmpty {
            let ok = encrypt ? EVP_EncryptUpdate(ctx, nil, &n, aad, Int32(aad.count))
                             : EVP_DecryptUpdate(ctx, nil, &n, aad, Int32(aad.count))
            guard ok == 1 else {
                EVP_CIPHER_CTX_free(ctx)
                throw OpenSSLError.drain("AES-GCM aad")
            }
        }
        return ctx
    }

    private static func checkParameters(key: [UInt8], nonce: [UInt8]) throws {
        guard key.count == 32, nonce.count == nonceSize else { throw CryptoFailure("AES-256-GCM needs a 32-byte key and a 12-byte nonce") }
    }

    /// Encrypts `input` into `out` (input.count + tag bytes), or decrypts `input` (ciphertext
    /// || tag) into `out` (input.count - tag bytes) and checks the tag.
    private static func run(encrypt: Bool, _ input: UnsafeBufferPointer<UInt8>, key: [UInt8], nonce: [UInt8], aad: [UInt8],
                            into out: UnsafeMutableBufferPointer<UInt8>) throws {
        let ctx = try context(encrypt: encrypt, key: key, nonce: nonce, aad: aad)
        defer { EVP_CIPHER_CTX_free(ctx) }
        let bodyCount = encrypt ? input.count : input.count - tagSize
        precondition(out.count == (encrypt ? input.count + tagSize : bodyCount), "AES-GCM output size")
        var n: Int32 = 0
        // EVP lengths are ints: large inputs go through in chunks (GCM is a stream mode, so the
        // chunking changes nothing in the output).
        var written = 0
        while written < bodyCount {
            let chunk = Int32(min(bodyCount - written, 1 << 30))
            let ok = encrypt ? EVP_EncryptUpdate(ctx, out.baseAddress! + written, &n, input.baseAddress! + written, chunk)
                             : EVP_DecryptUpdate(ctx, out.baseAddress! + written, &n, input.baseAddress! + written, chunk)
            guard ok == 1, n == chunk else { throw OpenSSLError.drain("AES-GCM update") }
            written += Int(n)
        }
        if encrypt {
            var scratch = [UInt8](repeating: 0, count: 16)
            guard EVP_EncryptFinal_ex(ctx, &scratch, &n) == 1, n == 0 else { throw OpenSSLError.drain("AES-GCM final") }
            // OpenSSL hands the tag out separately; WebCrypto appends it: do the same.
            guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(tagSize), out.baseAddress! + written) == 1 else {
                throw OpenSSLError.drain("AES-GCM tag")
            }
            return
        }
        var tag = Array(UnsafeBufferPointer(rebasing: input[bodyCount...]))
        guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagSize), &tag) == 1 else {
            throw OpenSSLError.drain("AES-GCM tag")
        }
        var scratch = [UInt8](repeating: 0, count: 16)
        guard EVP_DecryptFinal_ex(ctx, &scratch, &n) == 1 else {
            OpenSSLErrorQueue.clear()
            throw CryptoFailure("authentication failed: the data was altered, or the key or associated data is wrong")
        }
    }
}

public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        precondition(RAND_bytes(&out, Int32(count)) == 1, "the system random generator failed")
        return out
    }
}
