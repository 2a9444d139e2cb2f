// Plain CMS decryption of an S/MIME message, without the tunnel's policy: the check of the
// CMS code path against published samples (RFC 4134).
import Foundation
internal import COpenSSL

public enum CMSDecryptor {
    public static func decrypt(smime: [UInt8], key: PrivateKey, certificate: Certificate?) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        let inBio = MemoryBIO.reading(smime)
        defer { BIO_free(inBio) }
        guard let cms = SMIME_read_CMS(inBio, nil) else { throw OpenSSLError.drain("SMIME_read_CMS") }
        defer { CMS_ContentInfo_free(cms) }
        let out = MemoryBIO.writing()
        defer { BIO_free(out) }
        guard CMS_decrypt(cms, key.ref, certificate?.ref, nil, out, 0) == 1 else {
            throw OpenSSLError.drain("CMS_decrypt")
        }
        return MemoryBIO.contents(out)
    }
}
