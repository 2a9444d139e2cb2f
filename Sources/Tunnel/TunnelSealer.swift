// The gateway side of the S/MIME tunnel (`spoolrun wrap`): sign the payload with the
// webmail-sender key as multipart/signed, then encrypt it to the webmail-recipient certificate.
import Foundation
import Crypto
internal import COpenSSL

public enum TunnelCipher: String, Sendable, CaseIterable {
    /// AuthEnvelopedData (RFC 5083, RFC 5084): the preferred choice.
    case aes256gcm = "aes-256-gcm"
    case aes256cbc = "aes-256-cbc"
    case aes128cbc = "aes-128-cbc"
}

public struct TunnelSealer: Sendable {
    public let signerKey: PrivateKey
    public let signerCertificate: Certificate
    public let recipients: [Certificate]
    public let cipher: TunnelCipher

    public init(signerKey: PrivateKey, signerCertificate: Certificate, recipients: [Certificate],
                cipher: TunnelCipher = .aes256gcm) {
        self.signerKey = signerKey
        self.signerCertificate = signerCertificate
        self.recipients = recipients
        self.cipher = cipher
    }

    /// Returns the S/MIME entity (MIME-Version and Content-* headers, blank line, base64
    /// body) that goes below the tunnel message's From/To headers.
    public func seal(_ content: [UInt8]) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        guard signerCertificate.matches(signerKey) else {
            throw OpenSSLError(operation: "the signing key does not belong to the signing certificate", reasons: [])
        }
        let signed = try sign(content)
        return try encrypt(signed)
    }

    private func sign(_ content: [UInt8]) throws -> [UInt8] {
        // CMS_BINARY: the payload is already canonical (CRLF), so it is hashed as it is.
        // CMS_STREAM: the signature is computed while SMIME_write_CMS copies the content;
        // finalising first and writing afterwards makes OpenSSL add the signed attributes
        // twice ("attribute error").
        let flags = UInt32(CMS_DETACHED | CMS_BINARY | CMS_STREAM)
        let data = MemoryBIO.reading(content)
        defer { BIO_free(data) }
        guard let cms = CMS_sign(signerCertificate.ref, signerKey.ref, nil, data, flags) else {
            throw OpenSSLError.drain("signing the tunnel payload")
        }
        defer { CMS_ContentInfo_free(cms) }
        let out = MemoryBIO.writing()
        defer { BIO_free(out) }
        guard SMIME_write_CMS(out, cms, data, Int32(flags)) == 1 else {
            throw OpenSSLError.drain("writing multipart/signed")
        }
        return MemoryBIO.contents(out)
    }

    private func encrypt(_ signed: [UInt8]) throws -> [UInt8] {
        let stack = spoolrun_sk_X509_new_null()!
        defer { spoolrun_sk_X509_free(stack) }
        for cert in recipients { _ = spoolrun_sk_X509_push(stack, cert.ref) }  // borrowed
        let evpCipher: OpaquePointer?
        switch cipher {
        case .aes256gcm: evpCipher = EVP_aes_256_gcm()
        case .aes256cbc: evpCipher = EVP_aes_256_cbc()
        case .aes128cbc: evpCipher = EVP_aes_128_cbc()
        }
        let data = MemoryBIO.reading(signed)
        defer { BIO_free(data) }
        // An AEAD cipher makes OpenSSL 3 produce AuthEnvelopedData (RFC 5083).
        guard let cms = CMS_encrypt(stack, data, evpCipher, UInt32(CMS_BINARY)) else {
            throw OpenSSLError.drain("encrypting the tunnel message")
        }
        defer { CMS_ContentInfo_free(cms) }
        let out = MemoryBIO.writing()
        defer { BIO_free(out) }
        guard SMIME_write_CMS(out, cms, nil, 0) == 1 else {
            throw OpenSSLError.drain("writing application/pkcs7-mime")
        }
        return MemoryBIO.contents(out)
    }
}
