// The portal side of the S/MIME tunnel: decrypt with one of our tunnel keys, then verify
// the inner signature against the pinned gateway certificates only (DESIGN §4).
import Foundation
import Crypto
internal import COpenSSL

/// Why a tunnel message could not be opened. The cases mirror the spool's reason codes.
public enum TunnelFailure: String, Sendable, Equatable {
    case notEncrypted = "not-encrypted"
    case decryptFailed = "decrypt-failed"
    case weakAlgorithm = "weak-algorithm"
    case notSigned = "not-signed"
    case signatureInvalid = "signature-invalid"
    case signerNotTrusted = "signer-not-trusted"
}

/// A refusal is an outcome with a reason, not a crash and not a bare `false`.
public struct TunnelRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public let failure: TunnelFailure
    public let detail: String
    public var description: String { "\(failure.rawValue): \(detail)" }

    public init(failure: TunnelFailure, detail: String) {
        self.failure = failure
        self.detail = detail
    }
}

/// The outer layer, decrypted: the inner MIME entity, still to be verified.
public struct DecryptedTunnel: Sendable {
    public let content: [UInt8]
    /// Short OpenSSL name of the content cipher, for the log: e.g. "id-aes256-GCM".
    public let contentEncryption: String
}

/// A signature that verified against a pinned certificate, and what it covered.
public struct VerifiedContent: Sendable {
    /// The signed content: the tunnel payload (envelope + original message), as signed.
    public let content: [UInt8]
    /// SHA-256 of the signer certificate's DER, one of the pinned fingerprints.
    public let signerFingerprint: String
    /// Short OpenSSL name of the signature digest, e.g. "SHA256".
    public let signatureDigest: String
}

/// A tunnel key pair of the portal: the webmail-recipient key and its certificate.
public struct TunnelKeyPair: Sendable {
    public let key: PrivateKey
    public let certificate: Certificate
    public init(key: PrivateKey, certificate: Certificate) {
        self.key = key
        self.certificate = certificate
    }
}

public final class TunnelOpener: @unchecked Sendable {
    // @unchecked Sendable: all stored state is immutable after init and only read; the
    // OpenSSL objects behind it are safe for concurrent read-only use.
    private let keyPairs: [TunnelKeyPair]
    private let pinned: [Certificate]
    private let pinnedFingerprints: Set<String>
    private let pinnedStack: OpaquePointer

    public init(keyPairs: [TunnelKeyPair], pinned: [Certificate]) {
        self.keyPairs = keyPairs
        self.pinned = pinned
        self.pinnedFingerprints = Set(pinned.map(\.fingerprint))
        let stack = spoolrun_sk_X509_new_null()!
        for cert in pinned { _ = spoolrun_sk_X509_push(stack, cert.ref) }  // borrowed: `pinned` owns them
        self.pinnedStack = stack
    }

    deinit { spoolrun_sk_X509_free(pinnedStack) }

    /// Decrypts the DER body of the outer `application/pkcs7-mime` part with one of the
    /// tunnel keys, after checking the content-encryption algorithm. `der` is consumed: once
    /// OpenSSL has parsed it, the parsed structure holds the ciphertext, and a caller that
    /// hands over its only reference (`consume`) gets the memory back before decryption.
    public func decrypt(der: consuming [UInt8]) -> Result<DecryptedTunnel, TunnelRejection> {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        do {
            let (content, cipher) = try decrypt(consume der)
            return .success(DecryptedTunnel(content: content, contentEncryption: cipher))
        } catch let rejection as TunnelRejection {
            return .failure(rejection)
        } catch {
            return .failure(TunnelRejection(failure: .decryptFailed, detail: "\(error)"))
        }
    }

    /// Verifies a DER CMS SignedData against the pinned certificates only. For a detached
    /// signature (multipart/signed) `detachedContent` holds the signed bytes.
    public func verify(signature: [UInt8], detachedContent: [UInt8]?) -> Result<VerifiedContent, TunnelRejection> {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        do {
            return .success(try verifySignedData(signature, detachedContent: detachedContent))
        } catch let rejection as TunnelRejection {
            return .failure(rejection)
        } catch {
            return .failure(TunnelRejection(failure: .signatureInvalid, detail: "\(error)"))
        }
    }

    // MARK: - Decryption

    private func decrypt(_ der: consuming [UInt8]) throws -> ([UInt8], String) {
        // Parsed in place (d2i_CMS_bio would first copy the whole DER into a buffer of its own).
        let parsed = der.withUnsafeBufferPointer { buf -> OpaquePointer? in
            var p = buf.baseAddress
            return d2i_CMS_ContentInfo(nil, &p, buf.count)
        }
        guard let cms = parsed else {
            throw TunnelRejection(failure: .notEncrypted, detail: "the S/MIME body is not a CMS structure")
        }
        defer { CMS_ContentInfo_free(cms) }

        let type = OBJ_obj2nid(CMS_get0_type(cms))
        guard type == NID_pkcs7_enveloped || type == NID_id_smime_ct_authEnvelopedData else {
            throw TunnelRejection(failure: .notEncrypted,
                                  detail: "the CMS content is \(AlgorithmPolicy.name(ofNID: type)), not enveloped data")
        }

        // Judge the cipher before any private-key operation.
        let cipherNID: Int32
        do {
            cipherNID = AlgorithmPolicy.nid(ofEncodedOID: try BERWalker.contentEncryptionOID(in: der))
        } catch {
            throw TunnelRejection(failure: .decryptFailed, detail: "the enveloped data is malformed")
        }
        let cipher = AlgorithmPolicy.name(ofNID: cipherNID)
        guard AlgorithmPolicy.contentEncryption.contains(cipherNID) else {
            throw TunnelRejection(failure: .weakAlgorithm,
                                  detail: "content encrypted with \(cipher); only AES-CBC and AES-GCM are accepted")
        }

        // The plaintext is no longer than the ciphertext, which is shorter than the DER.
        let expected = der.count
        _ = consume der
        for pair in keyPairs {
            // Naming the certificate makes OpenSSL try only the matching RecipientInfo.
            guard CMS_decrypt_set1_pkey(cms, pair.key.ref, pair.certificate.ref) == 1 else { continue }
            if let content = Self.decryptedContent(cms, expected: expected) {
                OpenSSLErrorQueue.clear()
                return (content, cipher)
            }
        }
        let reasons = OpenSSLErrorQueue.drain()
        throw TunnelRejection(
            failure: .decryptFailed,
            detail: "not encrypted to any configured tunnel certificate"
                + (reasons.isEmpty ? "" : " (\(reasons.last!))"))
    }

    /// Reads the content through the decrypting BIO chain once the content key is set
    /// (CMS_decrypt_set1_pkey), into one array; nil when decryption or, for AES-GCM, the tag
    /// check fails. This is CMS_decrypt's own copy loop (cms_copy_content) with our array as
    /// the destination. CMS_decrypt itself is not used because the OpenSSL 3.0.22 here
    /// buffers the whole plaintext in a memory BIO until the tag is checked and only then
    /// copies it to the caller's BIO (seen in a debugger; upstream PR 31695, after RFC 5083
    /// §2.1): for a 35 MB message that is two more copies of it, the first reallocated and
    /// cleansed again and again as it grows. The rule behind it holds here too: the plaintext
    /// stays private to this function and is returned only after the cipher BIO has reported
    /// the tag (or the CBC padding) good at the end of the content.
    private static func decryptedContent(_ cms: OpaquePointer, expected: Int) -> [UInt8]? {
        guard let chain = CMS_dataInit(cms, nil) else { return nil }
        defer { BIO_free_all(chain) }
        var out: [UInt8] = []
        out.reserveCapacity(expected)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { BIO_read(chain, $0.baseAddress, Int32($0.count)) }
            if n <= 0 {
                // A cipher BIO reports the final block's padding or the GCM tag only here.
                if BIO_method_type(chain) == BIO_TYPE_CIPHER, BIO_ctrl(chain, BIO_C_GET_CIPHER_STATUS, 0, nil) <= 0 {
                    return nil
                }
                return n == 0 ? out : nil
            }
            out.append(contentsOf: buffer[..<Int(n)])
        }
    }

    // MARK: - Verification against the pinned certificates

    private func verifySignedData(_ der: [UInt8], detachedContent: [UInt8]?) throws -> VerifiedContent {
        let stripped = BERWalker.signedDataWithoutCertificates(der) ?? der
        let parsed = stripped.withUnsafeBufferPointer { buf -> OpaquePointer? in
            var p = buf.baseAddress
            return d2i_CMS_ContentInfo(nil, &p, buf.count)
        }
        guard let cms = parsed else {
            throw TunnelRejection(failure: .notSigned, detail: "the signature is not a CMS structure")
        }
        defer { CMS_ContentInfo_free(cms) }
        guard OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed else {
            throw TunnelRejection(failure: .notSigned, detail: "the decrypted content is not signed data")
        }

        let signerInfos = CMS_get0_SignerInfos(cms)
        let count = signerInfos.map { spoolrun_sk_CMS_SignerInfo_num($0) } ?? 0
        guard count > 0 else { throw TunnelRejection(failure: .notSigned, detail: "the signed data has no signer") }

        var digestName = ""
        for i in 0..<count {
            let si = spoolrun_sk_CMS_SignerInfo_value(signerInfos, i)
            var digAlg: UnsafeMutablePointer<X509_ALGOR>? = nil
            var sigAlg: UnsafeMutablePointer<X509_ALGOR>? = nil
            CMS_SignerInfo_get0_algs(si, nil, nil, &digAlg, &sigAlg)
            let dig = AlgorithmPolicy.nid(of: digAlg), sig = AlgorithmPolicy.nid(of: sigAlg)
            guard AlgorithmPolicy.digests.contains(dig) else {
                throw TunnelRejection(failure: .weakAlgorithm,
                                      detail: "signed with digest \(AlgorithmPolicy.name(ofNID: dig)); SHA-256/384/512 required")
            }
            guard AlgorithmPolicy.signatures.contains(sig) else {
                throw TunnelRejection(failure: .weakAlgorithm,
                                      detail: "signature algorithm \(AlgorithmPolicy.name(ofNID: sig)) is not accepted")
            }
            digestName = AlgorithmPolicy.name(ofNID: dig)
            // Every signer must be identified by a pinned certificate. Certificates carried in
            // the message play no part (CMS_NOINTERN below).
            guard pinned.contains(where: { CMS_SignerInfo_cert_cmp(si, $0.ref) == 0 }) else {
                throw TunnelRejection(failure: .signerNotTrusted,
                                      detail: "the signer is not a pinned gateway certificate")
            }
        }

        // CMS_NOINTERN is essential: without it OpenSSL also searches the certificates inside
        // the message, and an attacker's certificate with the pinned subject would pass.
        // No chain is built (CMS_NO_SIGNER_CERT_VERIFY): trust is the pin itself.
        // CMS_BINARY: the content is hashed exactly as sent, with no line-ending conversion.
        let flags = UInt32(CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY)
        let verified: Int32
        let content: [UInt8]
        if let detachedContent {
            // With CMS_BINARY the verified content is the detached content byte for byte, so
            // OpenSSL only reads it (no output BIO: it hashes into a null sink) and the
            // caller's array is the result.
            verified = try MemoryBIO.borrowing(detachedContent) { CMS_verify(cms, pinnedStack, nil, $0, nil, flags) }
            content = detachedContent
        } else {
            let sink = ArraySinkBIO(expected: stripped.count)
            verified = try sink.withBIO { CMS_verify(cms, pinnedStack, nil, nil, $0, flags) }
            content = sink.take()
        }
        guard verified == 1 else {
            let reasons = OpenSSLErrorQueue.drain()
            throw TunnelRejection(failure: .signatureInvalid,
                                  detail: "the signature does not verify" + (reasons.isEmpty ? "" : " (\(reasons.last!))"))
        }

        // Defence in depth: the certificates OpenSSL actually used must be pinned ones.
        guard let signers = CMS_get0_signers(cms) else {
            throw TunnelRejection(failure: .signerNotTrusted, detail: "no signer certificate was resolved")
        }
        defer { spoolrun_sk_X509_free(signers) }
        var fingerprint = ""
        for i in 0..<spoolrun_sk_X509_num(signers) {
            let used = Certificate.fingerprint(of: spoolrun_sk_X509_value(signers, i))
            guard pinnedFingerprints.contains(used) else {
                throw TunnelRejection(failure: .signerNotTrusted, detail: "signer certificate \(used) is not pinned")
            }
            fingerprint = used
        }
        return VerifiedContent(content: content, signerFingerprint: fingerprint, signatureDigest: digestName)
    }
}
