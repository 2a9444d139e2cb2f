// An X.509 certificate: one owned X509 pointer, freed on deinit, lent out only to this module.
import Foundation
internal import COpenSSL

public final class Certificate: @unchecked Sendable {
    // @unchecked Sendable: the X509 object is never mutated after it is created or loaded,
    // and OpenSSL 3 allows concurrent read-only use of one X509 from several threads.
    package let ref: OpaquePointer

    init(taking ref: OpaquePointer) { self.ref = ref }
    deinit { X509_free(ref) }

    /// Parses a PEM ("-----BEGIN CERTIFICATE-----") or DER certificate.
    public convenience init(bytes: [UInt8]) throws {
        OpenSSLErrorQueue.clear()
        let bio = MemoryBIO.reading(bytes)
        defer { BIO_free(bio) }
        if let x = PEM_read_bio_X509(bio, nil, nil, nil) {
            self.init(taking: x)
            return
        }
        OpenSSLErrorQueue.clear()
        var p: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buf in
            p = buf.baseAddress
            return d2i_X509(nil, &p, buf.count)
        }
        guard let parsed else { throw OpenSSLError.drain("not a PEM or DER certificate") }
        self.init(taking: parsed)
    }

    public convenience init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CryptoFileError(path: path, problem: "cannot be read")
        }
        do { try self.init(bytes: [UInt8](data)) } catch {
            throw CryptoFileError(path: path, problem: "is not a certificate (\(error))")
        }
    }

    public var der: [UInt8] { Self.der(of: ref) }

    static func der(of x509: OpaquePointer?) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        let len = i2d_X509(x509, &out)
        guard len > 0, let out else { return [] }
        defer { spoolrun_OPENSSL_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(len)))
    }

    /// SHA-256 of a borrowed X509's DER.
    package static func fingerprint(of x509: OpaquePointer?) -> String { SHA256.hex(der(of: x509)) }

    public var pem: String {
        let bio = MemoryBIO.writing()
        defer { BIO_free(bio) }
        PEM_write_bio_X509(bio, ref)
        return String(decoding: MemoryBIO.contents(bio), as: UTF8.self)
    }

    /// SHA-256 of the DER encoding: how pinned certificates are compared (DESIGN §4).
    public var fingerprint: String { Self.fingerprint(of: ref) }

    /// The subject in OpenSSL's one-line form, for messages to administrators.
    public var subject: String {
        guard let name = X509_get_subject_name(ref), let s = X509_NAME_oneline(name, nil, 0) else {
            return "?"
        }
        defer { spoolrun_OPENSSL_free(s) }
        return String(cString: s)
    }

    /// True when `key` is the private half of this certificate's public key.
    public func matches(_ key: PrivateKey) -> Bool {
        X509_check_private_key(ref, key.ref) == 1
    }
}

/// A key or certificate file that could not be used; names the file.
public struct CryptoFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public var description: String { "\(path) \(problem)" }
}
