// Makes the self-signed S/MIME certificates that `spoolrun setup` writes: the tunnel
// recipient's (key encipherment) and the gateway sender's (signing). No CA is involved: the
// portal pins the gateway certificate itself (DESIGN §4).
import Foundation
internal import COpenSSL

public struct CertificateProfile: Sendable {
    public enum Purpose: Sendable {
        /// Signs tunnel messages: digitalSignature, nonRepudiation.
        case signing
        /// Receives tunnel messages: keyEncipherment (RSA) or keyAgreement (EC).
        case encryption
    }

    public var commonName: String
    public var email: String
    public var purpose: Purpose
    public var validityDays: Int

    public init(commonName: String, email: String, purpose: Purpose, validityDays: Int = 3650) {
        self.commonName = commonName
        self.email = email
        self.purpose = purpose
        self.validityDays = validityDays
    }
}

public enum CertificateFactory {
    public static func selfSigned(key: PrivateKey, profile: CertificateProfile) throws -> Certificate {
        OpenSSLErrorQueue.clear()
        guard let x = X509_new() else { throw OpenSSLError.drain("X509_new") }
        let cert = Certificate(taking: x)
        X509_set_version(x, 2)  // v3

        // RFC 5280 §4.1.2.2: a positive serial of up to 20 octets; 16 random ones suffice.
        var serialBytes = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serialBytes, 16) == 1 else { throw OpenSSLError.drain("RAND_bytes") }
        serialBytes[0] &= 0x7f
        serialBytes[0] |= 0x01
        let bn = BN_bin2bn(serialBytes, 16, nil)
        defer { BN_free(bn) }
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))

        X509_gmtime_adj(X509_getm_notBefore(x), -300)
        X509_time_adj_ex(X509_getm_notAfter(x), Int32(profile.validityDays), 0, nil)

        let name = X509_get_subject_name(x)
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, profile.commonName, -1, -1, 0)
        X509_NAME_add_entry_by_txt(name, "emailAddress", MBSTRING_ASC, profile.email, -1, -1, 0)
        X509_set_issuer_name(x, name)
        X509_set_pubkey(x, key.ref)

        let keyUsage: String
        switch profile.purpose {
        case .signing: keyUsage = "critical,digitalSignature,nonRepudiation"
        case .encryption: keyUsage = key.isEC ? "critical,keyAgreement" : "critical,keyEncipherment"
        }
        let extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, keyUsage),
            (NID_ext_key_usage, "emailProtection"),
            (NID_subject_alt_name, "email:\(profile.email)"),
            (NID_subject_key_identifier, "hash"),
        ]
        var ctx = X509V3_CTX()
        X509V3_set_ctx(&ctx, x, x, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &ctx, nid, value) else {
                throw OpenSSLError.drain("certificate extension \(value)")
            }
            X509_add_ext(x, ext, -1)
            X509_EXTENSION_free(ext)
        }
        guard X509_sign(x, key.ref, EVP_sha256()) > 0 else { throw OpenSSLError.drain("X509_sign") }
        return cert
    }
}
