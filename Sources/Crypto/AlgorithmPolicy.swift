// Which algorithms a tunnel message may use (DESIGN §4). Everything not listed is refused
// as a weak algorithm: RC2, DES and 3DES for content, SHA-1 and MD5 for signatures.
// package: the tunnel's readers (the Tunnel target) use these helpers with the C types.
package import COpenSSL

package enum AlgorithmPolicy {
    /// AES in CBC (RFC 3565) or GCM (RFC 5084) mode.
    package static let contentEncryption: Set<Int32> = [
        NID_aes_128_cbc, NID_aes_192_cbc, NID_aes_256_cbc,
        NID_aes_128_gcm, NID_aes_192_gcm, NID_aes_256_gcm,
    ]
    /// RFC 8551 §2.1: SHA-256 is a MUST; SHA-1 and MD5 are no longer to be accepted.
    package static let digests: Set<Int32> = [NID_sha256, NID_sha384, NID_sha512]
    /// RSA PKCS#1 v1.5 (whose OID some signers give as plain rsaEncryption), RSASSA-PSS, ECDSA.
    package static let signatures: Set<Int32> = [
        NID_rsaEncryption, NID_sha256WithRSAEncryption, NID_sha384WithRSAEncryption,
        NID_sha512WithRSAEncryption, NID_rsassaPss, NID_X9_62_id_ecPublicKey,
        NID_ecdsa_with_SHA256, NID_ecdsa_with_SHA384, NID_ecdsa_with_SHA512,
    ]

    /// The NID of a DER-encoded OBJECT IDENTIFIER, or NID_undef.
    package static func nid(ofEncodedOID der: [UInt8]) -> Int32 {
        der.withUnsafeBufferPointer { buf -> Int32 in
            var p = buf.baseAddress
            guard let obj = d2i_ASN1_OBJECT(nil, &p, buf.count) else { return NID_undef }
            defer { ASN1_OBJECT_free(obj) }
            return OBJ_obj2nid(obj)
        }
    }

    package static func name(ofNID nid: Int32) -> String {
        guard nid != NID_undef, let sn = OBJ_nid2sn(nid) else { return "an unknown algorithm" }
        return String(cString: sn)
    }

    package static func nid(of algorithm: UnsafeMutablePointer<X509_ALGOR>?) -> Int32 {
        guard let algorithm else { return NID_undef }
        var obj: OpaquePointer? = nil
        X509_ALGOR_get0(&obj, nil, nil, algorithm)
        return obj.map { OBJ_obj2nid($0) } ?? NID_undef
    }
}
