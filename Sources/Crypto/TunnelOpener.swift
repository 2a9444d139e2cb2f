// The portal side of the S/MIME tunnel: decrypt with one of our tunnel keys, then verify
// the inner signature against the pinned gateway certificates only (DESIGN §4).
import Foundation
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
    /// tunnel keys, after checking the content-encryption algorithm.
    public func decrypt(der: [UInt8]) -> Result<DecryptedTunnel, TunnelRejection> {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        do {
            let (content, cipher) = try decrypt(der)
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

    private func decrypt(_ der: [UInt8]) throws -> ([UInt8], String) {
        let inBio = MemoryBIO.reading(der)
        defer { BIO_free(inBio) }
        guard let cms = d2i_CMS_bio(inBio, nil) else {
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

        for pair in keyPairs {
            let out = MemoryBIO.writing()
            defer { BIO_free(out) }
            // Naming the certificate makes OpenSSL try only the matching RecipientInfo.
            if CMS_decrypt(cms, pair.key.ref, pair.certificate.ref, nil, out, 0) == 1 {
                OpenSSLErrorQueue.clear()
                return (MemoryBIO.contents(out), cipher)
            }
        }
        let reasons = OpenSSLErrorQueue.drain()
        throw TunnelRejection(
            failure: .decryptFailed,
            detail: "not encrypted to any configured tunnel certificate"
                + (reasons.isEmpty ? "" : " (\(reasons.last!))"))
    }

    // MARK: - Verification against the pinned certificates

    private func verifySignedData(_ der: [UInt8], detachedContent: [UInt8]?) throws -> VerifiedContent {
        let inBio = MemoryBIO.reading(BERWalker.signedDataWithoutCertificates(der) ?? der)
        defer { BIO_free(inBio) }
        guard let cms = d2i_CMS_bio(inBio, nil) else {
            throw TunnelRejection(failure: .notSigned, detail: "the signature is not a CMS structure")
        }
        let detached = detachedContent.map { MemoryBIO.reading($0) }
        defer {
            CMS_ContentInfo_free(cms)
            if let detached { BIO_free(detached) }
        }
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

        let out = MemoryBIO.writing()
        defer { BIO_free(out) }
        // CMS_NOINTERN is essential: without it OpenSSL also searches the certificates inside
        // the message, and an attacker's certificate with the pinned subject would pass.
        // No chain is built (CMS_NO_SIGNER_CERT_VERIFY): trust is the pin itself.
        // CMS_BINARY: the content is hashed exactly as sent, with no line-ending conversion.
        let flags = UInt32(CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY)
        guard CMS_verify(cms, pinnedStack, nil, detached, out, flags) == 1 else {
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
        return VerifiedContent(content: MemoryBIO.contents(out), signerFingerprint: fingerprint,
                               signatureDigest: digestName)
    }
}
