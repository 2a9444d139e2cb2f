// The tunnel's sealer and opener against each other with keys made in the test: what is
// sealed by a pinned signer opens, and pinning is by certificate, not by name.
import Crypto
import Foundation
import Mail
@testable import Tunnel
import XCTest

final class TunnelCryptoTests: XCTestCase {
    func pair(_ kind: PrivateKey.Kind, purpose: CertificateProfile.Purpose, email: String) throws -> (PrivateKey, Certificate) {
        let key = try PrivateKey.generate(kind)
        let cert = try CertificateFactory.selfSigned(key: key, profile: .init(commonName: "test", email: email, purpose: purpose))
        return (key, cert)
    }

    let payload = Array("Content-Type: text/plain\r\n\r\nhello tunnel\r\n".utf8)

    func testSealedByAPinnedSignerOpensToTheSignedContent() throws {
        let (rk, rc) = try pair(.rsa2048, purpose: .encryption, email: "webmail@portal.test")
        let (sk, sc) = try pair(.rsa2048, purpose: .signing, email: "gw@gateway.test")
        let sealed = try TunnelSealer(signerKey: sk, signerCertificate: sc, recipients: [rc]).seal(payload)
        let der = try derBody(of: sealed)
        let opened = try TunnelOpener(keyPairs: [.init(key: rk, certificate: rc)], pinned: [sc]).openTunnel(der).get()
        XCTAssertEqual(opened.content, payload)
        XCTAssertEqual(opened.signerFingerprint, sc.fingerprint)
        
    }

    func testECRecipientKeyAndECSignerWork() throws {
        let (rk, rc) = try pair(.p256, purpose: .encryption, email: "webmail@portal.test")
        let (sk, sc) = try pair(.p256, purpose: .signing, email: "gw@gateway.test")
        for cipher in TunnelCipher.allCases {
            let sealed = try TunnelSealer(signerKey: sk, signerCertificate: sc, recipients: [rc], cipher: cipher).seal(payload)
            let opened = try TunnelOpener(keyPairs: [.init(key: rk, certificate: rc)], pinned: [sc]).openTunnel(try derBody(of: sealed)).get()
            XCTAssertEqual(opened.content, payload, "\(cipher)")
        }
    }

    func testSignerWithTheSameNameButAnotherKeyIsNotTrusted() throws {
        let (rk, rc) = try pair(.rsa2048, purpose: .encryption, email: "webmail@portal.test")
        let (_, pinned) = try pair(.rsa2048, purpose: .signing, email: "gw@gateway.test")
        let (ak, ac) = try pair(.rsa2048, purpose: .signing, email: "gw@gateway.test")
        XCTAssertEqual(ac.subject, pinned.subject)
        let sealed = try TunnelSealer(signerKey: ak, signerCertificate: ac, recipients: [rc]).seal(payload)
        let result = TunnelOpener(keyPairs: [.init(key: rk, certificate: rc)], pinned: [pinned]).openTunnel(try derBody(of: sealed))
        guard case .failure(let r) = result else { return XCTFail("an unpinned signer must not pass") }
        XCTAssertEqual(r.failure, .signerNotTrusted)
    }

    func testAnyOfSeveralTunnelKeysDecrypts() throws {
        let (oldKey, oldCert) = try pair(.rsa2048, purpose: .encryption, email: "webmail@portal.test")
        let (newKey, newCert) = try pair(.p256, purpose: .encryption, email: "webmail@portal.test")
        let (sk, sc) = try pair(.rsa2048, purpose: .signing, email: "gw@gateway.test")
        let opener = TunnelOpener(keyPairs: [.init(key: oldKey, certificate: oldCert), .init(key: newKey, certificate: newCert)],
                                  pinned: [sc])
        for recipient in [oldCert, newCert] {
            let sealed = try TunnelSealer(signerKey: sk, signerCertificate: sc, recipients: [recipient]).seal(payload)
            XCTAssertEqual(try opener.openTunnel(try derBody(of: sealed)).get().content, payload)
        }
    }

}

/// The base64 body of the S/MIME entity the sealer wrote.
func derBody(of smime: [UInt8]) throws -> [UInt8] {
    let text = String(decoding: smime, as: UTF8.self)
    guard let range = text.range(of: "\n\n") ?? text.range(of: "\r\n\r\n") else { throw CocoaError(.fileReadCorruptFile) }
    let b64 = text[range.upperBound...].filter { !$0.isWhitespace }
    guard let data = Data(base64Encoded: String(b64)) else { throw CocoaError(.fileReadCorruptFile) }
    return [UInt8](data)
}

extension TunnelOpener {
    /// The intake's three steps without the spool: decrypt, split the signed entity, verify.
    func openTunnel(_ der: [UInt8]) -> Result<VerifiedContent, TunnelRejection> {
        switch decrypt(der: der) {
        case .failure(let r): return .failure(r)
        case .success(let d):
            guard let signed = try? SignedEntity.parse(d.content) else {
                return .failure(TunnelRejection(failure: .notSigned, detail: "not a signed entity"))
            }
            return verify(signature: signed.signature, detachedContent: signed.detachedContent)
        }
    }
}

final class SignedDataStrippingTests: XCTestCase {
    func testCertificatesCarriedInTheSignatureAreDroppedBeforeOpenSSLParsesThem() throws {
        let rk = try PrivateKey.generate(.rsa2048)
        let rc = try CertificateFactory.selfSigned(key: rk, profile: .init(commonName: "r", email: "r@portal.test", purpose: .encryption))
        let sk = try PrivateKey.generate(.p256)
        let sc = try CertificateFactory.selfSigned(key: sk, profile: .init(commonName: "s", email: "s@gateway.test", purpose: .signing))
        let payload = Array("Content-Type: text/plain\r\n\r\nhi\r\n".utf8)
        let sealed = try TunnelSealer(signerKey: sk, signerCertificate: sc, recipients: [rc]).seal(payload)
        let opener = TunnelOpener(keyPairs: [.init(key: rk, certificate: rc)], pinned: [sc])
        let decrypted = try opener.decrypt(der: try derBody(of: sealed)).get()
        let signature = try SignedEntity.parse(decrypted.content).signature
        XCTAssertTrue(contains(signature, sc.der), "openssl embeds the signer certificate")

        let stripped = try XCTUnwrap(BERWalker.signedDataWithoutCertificates(signature))
        XCTAssertFalse(contains(stripped, sc.der))
        XCTAssertLessThan(stripped.count, signature.count - sc.der.count + 16)
        XCTAssertEqual(try opener.verify(signature: signature, detachedContent: Array(payload)).get().content, payload)
    }

    func testNonSignedDataIsLeftAlone() {
        XCTAssertNil(BERWalker.signedDataWithoutCertificates([0x30, 0x03, 0x02, 0x01, 0x00]))
        XCTAssertNil(BERWalker.signedDataWithoutCertificates([]))
        XCTAssertNil(BERWalker.signedDataWithoutCertificates([0x30, 0x80, 0x00]))
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return true }
        }
        return false
    }
}
