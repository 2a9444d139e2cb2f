// A private key: one owned EVP_PKEY, generated here or loaded from PEM/DER.
import Foundation
internal import COpenSSL

public final class PrivateKey: @unchecked Sendable {
    // @unchecked Sendable: the key is never mutated after creation; OpenSSL 3 allows an
    // EVP_PKEY to be used read-only from several threads at once.
    package let ref: OpaquePointer

    init(taking ref: OpaquePointer) { self.ref = ref }
    deinit { EVP_PKEY_free(ref) }

    public enum Kind: String, Sendable, CaseIterable {
        case rsa2048 = "rsa2048", rsa3072 = "rsa3072", p256 = "p256", p384 = "p384"
    }

    /// Generates a fresh key of the given kind.
    public static func generate(_ kind: Kind) throws -> PrivateKey {
        OpenSSLErrorQueue.clear()
        let algorithm = (kind == .p256 || kind == .p384) ? "EC" : "RSA"
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, algorithm, nil) else {
            throw OpenSSLError.drain("EVP_PKEY_CTX_new_from_name")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) == 1 else { throw OpenSSLError.drain("keygen init") }
        switch kind {
        case .rsa2048: EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048)
        case .rsa3072: EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 3072)
        case .p256: EVP_PKEY_CTX_set_group_name(ctx, "P-256")
        case .p384: EVP_PKEY_CTX_set_group_name(ctx, "P-384")
        }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_generate(ctx, &key) == 1, let key else {
            throw OpenSSLError.drain("key generation")
        }
        return PrivateKey(taking: key)
    }

    /// Parses a PEM private key (PKCS#8 or traditional) or a DER PKCS#8 key.
    public convenience init(bytes: [UInt8]) throws {
        OpenSSLErrorQueue.clear()
        let bio = MemoryBIO.reading(bytes)
        defer { BIO_free(bio) }
        if let k = PEM_read_bio_PrivateKey(bio, nil, nil, nil) {
            self.init(taking: k)
            return
        }
        OpenSSLErrorQueue.clear()
        var p: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buf in
            p = buf.baseAddress
            return d2i_AutoPrivateKey(nil, &p, buf.count)
        }
        guard let parsed else { throw OpenSSLError.drain("not a PEM or DER private key") }
        self.init(taking: parsed)
    }

    public convenience init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CryptoFileError(path: path, problem: "cannot be read")
        }
        do { try self.init(bytes: [UInt8](data)) } catch {
            throw CryptoFileError(path: path, problem: "is not a private key (\(error))")
        }
    }

    /// Unencrypted PKCS#8 PEM. The caller writes it with mode 0600.
    public var pkcs8PEM: String {
        let bio = MemoryBIO.writing()
        defer { BIO_free(bio) }
        PEM_write_bio_PrivateKey(bio, ref, nil, nil, 0, nil, nil)
        return String(decoding: MemoryBIO.contents(bio), as: UTF8.self)
    }

    public var isEC: Bool { EVP_PKEY_get_base_id(ref) == EVP_PKEY_EC }
}
