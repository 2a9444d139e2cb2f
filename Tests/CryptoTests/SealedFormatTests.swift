// docs/sealed-format.md, checked against its known answers (docs/sealed-format-vectors.json,
// computed by Python's cryptography) and against tampering.
import Crypto
import Foundation
import TestSupport
import XCTest

final class SealedFormatTests: XCTestCase {
    struct Vectors {
        let json: [String: Any]
        subscript(_ section: String, _ key: String) -> String { ((json[section] as! [String: Any])[key] as? String)! }
        func bytes(_ section: String, _ key: String) -> [UInt8] { Base64URL.decode(self[section, key])! }
        func hex(_ section: String, _ key: String) -> [UInt8] { hexBytes(self[section, key]) }
    }

    nonisolated(unsafe) static let vectors: Vectors = {
        let path = Paths.repo.appending(path: "docs/sealed-format-vectors.json")
        let data = FileManager.default.contents(atPath: path)!
        return Vectors(json: try! JSONSerialization.jsonObject(with: data) as! [String: Any])
    }()
    var v: Vectors { Self.vectors }

    func testLoginDerivesTheLocatorAndWrapKeyOfTheVectors() throws {
        let iterations = (v.json["login"] as! [String: Any])["iterations"] as! Int
        XCTAssertEqual(iterations, SealedFormat.loginIterations)
        let login = try RecipientLogin.derive(address: v["login", "address"], password: v["login", "password"],
                                              installationSalt: v.bytes("login", "installation_salt"), iterations: iterations)
        XCTAssertEqual(login.locator, v["login", "locator"])
        let bundle = try KeyBundle(json: Array(v["bundle", "json"].utf8))
        XCTAssertEqual(try bundle.unwrap(with: login).privateScalar, v.hex("bundle", "recipient_private_hex"),
                       "the wrap key of the vectors opens the vectors' bundle")
    }

    func testKeyBundleMatchesTheVectorsByteForByte() throws {
        let login = try RecipientLogin.derive(address: v["login", "address"], password: v["login", "password"],
                                              installationSalt: v.bytes("login", "installation_salt"))
        let pair = try P256KeyPair(privateScalar: v.hex("bundle", "recipient_private_hex"))
        XCTAssertEqual(pair.publicPoint, v.bytes("bundle", "recipient_public"))
        let bundle = try KeyBundle.wrap(pair, login: login, mailboxID: v["bundle", "mailbox"], nonce: v.bytes("bundle", "nonce"))
        XCTAssertEqual(String(decoding: bundle.json(), as: UTF8.self), v["bundle", "json"])
    }

    func testSealedObjectMatchesTheVectorsAndOpens() throws {
        let recipient = try P256KeyPair(privateScalar: v.hex("object", "recipient_private_hex"))
        let ephemeral = try P256KeyPair(privateScalar: v.hex("object", "ephemeral_private_hex"))
        let c = (v.json["object"] as! [String: Any])["context"] as! [String: String]
        let context = SealedFormat.ObjectContext(mailboxID: c["mailbox"]!, messageID: c["message"]!, objectName: c["object"]!)
        XCTAssertEqual(try ephemeral.sharedSecret(with: recipient.publicKey), v.bytes("object", "shared_secret"))
        let sealed = try SealedFormat.seal(v.bytes("object", "plaintext"), to: recipient.publicKey, context: context,
                                           ephemeral: ephemeral, nonce: v.bytes("object", "nonce"))
        XCTAssertEqual(sealed, v.bytes("object", "sealed"))
        XCTAssertEqual(try SealedFormat.open(v.bytes("object", "sealed"), with: recipient, context: context),
                       v.bytes("object", "plaintext"))
    }

    func testWrongPasswordOrAddressGivesAnotherLocatorAndCannotUnwrap() throws {
        let salt = v.bytes("login", "installation_salt")
        let right = try RecipientLogin.derive(address: "bob@ext.example", password: "pw-right", installationSalt: salt, iterations: 1000)
        let wrongPassword = try RecipientLogin.derive(address: "bob@ext.example", password: "pw-wrong", installationSalt: salt, iterations: 1000)
        let wrongAddress = try RecipientLogin.derive(address: "eve@ext.example", password: "pw-right", installationSalt: salt, iterations: 1000)
        XCTAssertNotEqual(right.locator, wrongPassword.locator)
        XCTAssertNotEqual(right.locator, wrongAddress.locator)
        let bundle = try KeyBundle.wrap(try P256KeyPair.generate(), login: right, mailboxID: "mbx")
        XCTAssertThrowsError(try bundle.unwrap(with: wrongPassword))
        var moved = bundle
        moved.mailboxID = "other-mailbox"
        XCTAssertThrowsError(try moved.unwrap(with: right), "a bundle is bound to its mailbox id")
    }

    func testSealedObjectSwappedToAnotherPlaceOrTruncatedIsRefused() throws {
        let recipient = try P256KeyPair.generate()
        let here = SealedFormat.ObjectContext(mailboxID: "mbx", messageID: "m1", objectName: "body.json")
        let sealed = try SealedFormat.seal(Array("secret".utf8), to: recipient.publicKey, context: here)
        XCTAssertEqual(try SealedFormat.open(sealed, with: recipient, context: here), Array("secret".utf8))
        for other in [SealedFormat.ObjectContext(mailboxID: "mbx", messageID: "m2", objectName: "body.json"),
                      SealedFormat.ObjectContext(mailboxID: "mbx", messageID: "m1", objectName: "att-1"),
                      SealedFormat.ObjectContext(mailboxID: "mbx2", messageID: "m1", objectName: "body.json")] {
            XCTAssertThrowsError(try SealedFormat.open(sealed, with: recipient, context: other), "\(other)")
        }
        XCTAssertThrowsError(try SealedFormat.open(Array(sealed.dropLast()), with: recipient, context: here))
        XCTAssertThrowsError(try SealedFormat.open(Array(sealed.prefix(80)), with: recipient, context: here))
        var flipped = sealed
        flipped[90] ^= 1
        XCTAssertThrowsError(try SealedFormat.open(flipped, with: recipient, context: here))
        XCTAssertThrowsError(try SealedFormat.open(sealed, with: try P256KeyPair.generate(), context: here),
                             "another recipient's key opens nothing")
    }
}

func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = hex.startIndex
    while i < hex.endIndex {
        let j = hex.index(i, offsetBy: 2)
        out.append(UInt8(hex[i..<j], radix: 16)!)
        i = j
    }
    return out
}

final class SealedIDTests: XCTestCase {
    func testIDsWithTheSeparatorOrOutsideTheAlphabetAreRefused() throws {
        let recipient = try P256KeyPair.generate()
        for bad in ["a|b", "", "ü", "a/b", String(repeating: "x", count: 129)] {
            let context = SealedFormat.ObjectContext(mailboxID: "mbx", messageID: bad, objectName: "body")
            XCTAssertThrowsError(try SealedFormat.seal([1], to: recipient.publicKey, context: context), bad)
        }
        let login = try RecipientLogin.derive(address: "a@b.example", password: "p", installationSalt: SecureRandom.bytes(32),
                                              iterations: 1)
        XCTAssertThrowsError(try KeyBundle.wrap(recipient, login: login, mailboxID: "bad\"id"))
    }
}

final class Base64URLTests: XCTestCase {
    func testOnlyUnpaddedBase64URLIsAcceptedAsTheBrowserDoes() {
        XCTAssertEqual(Base64URL.decode("AQID_-8"), [1, 2, 3, 0xFF, 0xEF])
        XCTAssertEqual(Base64URL.decode(""), [])
        XCTAssertEqual(Base64URL.encode([1, 2, 3, 0xFF, 0xEF]), "AQID_-8")
        for bad in ["AQID_-8=", "AQID/+8", "AQ ID", "AQID\n", "A", "AQID_-8==", "éé"] {
            XCTAssertNil(Base64URL.decode(bad), bad.debugDescription)
        }
    }

    func testBase64URLIsUnpaddedRFC4648Section5AndRoundTripsAtEveryLength() {
        var rng = SeededGenerator(seed: 4648)
        for length in 0..<300 {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let expected = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            XCTAssertEqual(Base64URL.encode(bytes), expected, "\(length) bytes")
            XCTAssertEqual(Base64URL.decode(Base64URL.encode(bytes)), bytes, "\(length) bytes")
        }
    }
}
