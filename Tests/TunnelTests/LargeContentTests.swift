// Large contents through the tunnel opener and the sealer: what goes through OpenSSL without
// intermediate copies (borrowed input, own decryption loop, one-allocation and streamed
// sealing) comes out byte for byte, and an altered AES-GCM ciphertext is still refused.
import Crypto
import Mail
import TestSupport
@testable import Tunnel
import XCTest

final class LargeContentTests: XCTestCase {
    /// A MIME entity of about `size` bytes: base64-looking CRLF lines of seeded random text.
    static func entity(size: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out = Array("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n".utf8)
        out.reserveCapacity(size + 80)
        while out.count < size {
            for _ in 0..<76 { out.append(alphabet[rng.next(below: alphabet.count)]) }
            out += [13, 10]
        }
        return out
    }

    func pair(_ kind: PrivateKey.Kind, purpose: CertificateProfile.Purpose, email: String) throws -> (PrivateKey, Certificate) {
        let key = try PrivateKey.generate(kind)
        return (key, try CertificateFactory.selfSigned(key: key, profile: .init(commonName: "test", email: email, purpose: purpose)))
    }

    func testMultiMegabyteContentOpensByteForByteWithEveryCipher() throws {
        let (rk, rc) = try pair(.p256, purpose: .encryption, email: "webmail@portal.test")
        let (sk, sc) = try pair(.p256, purpose: .signing, email: "gw@gateway.test")
        let opener = TunnelOpener(keyPairs: [.init(key: rk, certificate: rc)], pinned: [sc])
        // Larger than the 64 KiB read loop and not a multiple of the AES block.
        let payload = Self.entity(size: 3 * 1024 * 1024 + 7, seed: 7)
        for cipher in TunnelCipher.allCases {
            let sealed = try TunnelSealer(signerKey: sk, signerCertificate: sc, recipients: [rc], cipher: cipher).seal(payload)
            let decrypted = try opener.decrypt(der: try derBody(of: sealed)).get()
            let signed = try SignedEntity.parse(decrypted.content)
            XCTAssertEqual(signed.detachedContent, payload, "\(cipher)")
            let verified = try opener.verify(signature: signed.signature, detachedContent: signed.detachedContent).get()
            XCTAssertEqual(verified.content, payload, "\(cipher)")
        }
    }

    func testAlteredAESGCMCiphertextIsRefusedAsDecryptFailed() throws {
        let (rk, rc) = try pair(.p256, purpose: .encryption, email: "webmail@portal.test")
        let (sk, sc) = try pair(.p256, purpose: .signing, email: "gw@gateway.test")
        let opener = TunnelOpener(keyPairs: [.init(key: rk, certificate: rc)], pinned: [sc])
        let payload = Self.entity(size: 300_000, seed: 8)
        let sealed = try TunnelSealer(signerKey: sk, signerCertificate: sc, recipients: [rc], cipher: .aes256gcm).seal(payload)
        var der = try derBody(of: sealed)
        XCTAssertNoThrow(try opener.decrypt(der: der).get())
        // The middle of the DER is ciphertext: GCM decrypts it to other bytes, and only the tag
        // at the end tells. Nothing of the plaintext may come back.
        der[der.count / 2] ^= 0x01
        guard case .failure(let rejection) = opener.decrypt(der: der) else {
            return XCTFail("an altered AES-GCM ciphertext must not decrypt")
        }
        XCTAssertEqual(rejection.failure, .decryptFailed)
    }

    func testSealedObjectStreamedInPiecesIsTheSameBytesAsInOne() throws {
        let recipient = try P256KeyPair.generate()
        let ephemeral = try P256KeyPair.generate()
        let nonce = SecureRandom.bytes(AESGCM.nonceSize)
        let context = SealedFormat.ObjectContext(mailboxID: "mbox", messageID: "msg", objectName: "att-1")
        var rng = SeededGenerator(seed: 9)
        for size in [0, 1, 15, 16, 17, 65_536, 1_000_003] {
            let plaintext = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let whole = try SealedFormat.seal(plaintext, to: try P256PublicKey(point: recipient.publicPoint), context: context,
                                              ephemeral: ephemeral, nonce: nonce)
            for chunkSize in [1, 16, 65_536] where size < 100_000 || chunkSize > 1 {
                var pieces: [UInt8] = []
                try SealedFormat.seal(plaintext, to: try P256PublicKey(point: recipient.publicPoint), context: context,
                                      ephemeral: ephemeral, nonce: nonce, chunkSize: chunkSize) { pieces += $0 }
                XCTAssertEqual(pieces, whole, "size \(size), chunks of \(chunkSize)")
            }
            XCTAssertEqual(try SealedFormat.open(whole, with: recipient, context: context), plaintext, "size \(size)")
        }
    }

    func testAESGCMRoundTripsEmptyAndLargeInputs() throws {
        let key = SecureRandom.bytes(32), nonce = SecureRandom.bytes(AESGCM.nonceSize)
        for plaintext in [[], Self.entity(size: 2_000_000, seed: 10)] {
            let sealed = try AESGCM.seal(plaintext, key: key, nonce: nonce, aad: [1, 2, 3])
            XCTAssertEqual(sealed.count, plaintext.count + AESGCM.tagSize)
            XCTAssertEqual(try AESGCM.open(sealed, key: key, nonce: nonce, aad: [1, 2, 3]), plaintext)
            XCTAssertThrowsError(try AESGCM.open(sealed, key: key, nonce: nonce, aad: [1, 2, 4]))
        }
    }
}
