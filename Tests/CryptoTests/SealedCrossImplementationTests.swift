// Swift seals and JavaScript opens; JavaScript seals and Swift opens (Node's WebCrypto
// through Tests/JavaScript/cross.mjs, the same module the portal loads).
import Crypto
import Foundation
import TestSupport
import XCTest

final class SealedCrossImplementationTests: XCTestCase {
    func javascript(_ request: [String: Any]) throws -> [String: Any] {
        let input = try JSONSerialization.data(withJSONObject: request)
        let r = try Shell.run("node", [Paths.repo.appending(path: "Tests/JavaScript/cross.mjs")], stdin: input, timeout: 60)
        let answer = (try? JSONSerialization.jsonObject(with: r.stdout)) as? [String: Any] ?? [:]
        guard r.status == 0 else { throw CryptoFailure("cross.mjs: \(answer["error"] ?? r.err)") }
        return answer
    }

    let context = SealedFormat.ObjectContext(mailboxID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", messageID: "m-cross-1",
                                             objectName: "att-1")
    var contextJSON: [String: String] { ["mailbox": context.mailboxID, "message": context.messageID, "object": context.objectName] }
    let plaintext = Array("Kreuztest: Zürich → Αθήνα → Москва 📎\n".utf8) + (0..<3000).map { UInt8($0 % 251) }

    func testObjectSealedInSwiftOpensInJavaScript() throws {
        let recipient = try P256KeyPair.generate()
        let sealed = try SealedFormat.seal(plaintext, to: recipient.publicKey, context: context)
        let answer = try javascript(["op": "open", "sealed": Base64URL.encode(sealed),
                                     "recipient_private_hex": Hex.encode(recipient.privateScalar),
                                     "recipient_public": Base64URL.encode(recipient.publicPoint), "context": contextJSON])
        XCTAssertEqual((answer["plaintext"] as? String).flatMap(Base64URL.decode), plaintext)
    }

    func testObjectSealedInJavaScriptOpensInSwift() throws {
        let recipient = try P256KeyPair.generate()
        let answer = try javascript(["op": "seal", "plaintext": Base64URL.encode(plaintext),
                                     "recipient_public": Base64URL.encode(recipient.publicPoint), "context": contextJSON])
        let sealed = try XCTUnwrap((answer["sealed"] as? String).flatMap(Base64URL.decode))
        XCTAssertEqual(try SealedFormat.open(sealed, with: recipient, context: context), plaintext)
        let elsewhere = SealedFormat.ObjectContext(mailboxID: context.mailboxID, messageID: "m-cross-2", objectName: "att-1")
        XCTAssertThrowsError(try SealedFormat.open(sealed, with: recipient, context: elsewhere))
    }

    func testBundleWrappedInSwiftUnwrapsInJavaScriptWithTheRightPasswordOnly() throws {
        let salt = SecureRandom.bytes(32)
        let login = try RecipientLogin.derive(address: "carol@ext.example", password: "blue-heron-27", installationSalt: salt,
                                              iterations: 2000)
        let recipient = try P256KeyPair.generate()
        let bundle = try KeyBundle.wrap(recipient, login: login, mailboxID: context.mailboxID)
        let sealed = try SealedFormat.seal(plaintext, to: recipient.publicKey, context: context)
        var request: [String: Any] = [
            "op": "unwrap", "bundle_json": String(decoding: bundle.json(), as: UTF8.self), "address": "carol@ext.example",
            "password": "blue-heron-27", "installation_salt": Base64URL.encode(salt), "iterations": 2000,
            "sealed": Base64URL.encode(sealed), "context": contextJSON,
        ]
        let answer = try javascript(request)
        XCTAssertEqual(answer["locator"] as? String, login.locator, "both sides name the same bundle file")
        XCTAssertEqual((answer["opened"] as? String).flatMap(Base64URL.decode), plaintext)

        request["password"] = "blue-heron-28"
        XCTAssertThrowsError(try javascript(request), "a wrong password unwraps nothing")
    }
}
