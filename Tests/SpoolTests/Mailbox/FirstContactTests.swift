// First contact: the recipient's key bundle opens with their password only, the password
// and the private key are written nowhere in clear, and the browser's code opens it too.
import Crypto
import Foundation
@testable import Spool
import TestSupport
import XCTest

final class FirstContactTests: XCTestCase {
    var dir: TemporaryDirectory!
    var www: PortalFiles!
    let salt = SecureRandom.bytes(32)

    override func setUpWithError() throws {
        dir = try TemporaryDirectory()
        www = PortalFiles(root: dir.file("www"))
        try FileSystem.makeDirectory(www.root, mode: 0o755)
    }

    func bundle(for address: String, password: String, iterations: Int) throws -> (KeyBundle, RecipientLogin)? {
        let login = try RecipientLogin.derive(address: address, password: password, installationSalt: salt, iterations: iterations)
        guard let data = FileManager.default.contents(atPath: www.bundlePath(locator: login.locator)) else { return nil }
        return (try KeyBundle(json: [UInt8](data)), login)
    }

    func testBundleWithTheEnvelopePasswordUsesTheFullPBKDF2CostAndOpensOnlyWithIt() throws {
        let result = try FirstContact(www: www, installationSalt: salt).register(" Bob@Ext.Example ", password: "tulip-river-48",
                                                                                 now: Date())
        XCTAssertNil(result.generatedPassword, "the envelope's password is used as given")
        XCTAssertEqual(result.recipient.address, "bob@ext.example")
        let (bundle, login) = try XCTUnwrap(try bundle(for: "bob@ext.example", password: "tulip-river-48",
                                                      iterations: SealedFormat.loginIterations))
        XCTAssertEqual(bundle.mailboxID, result.recipient.mailboxID)
        XCTAssertEqual(try bundle.unwrap(with: login).publicPoint, result.recipient.publicKey)
        XCTAssertNil(try self.bundle(for: "bob@ext.example", password: "tulip-river-49", iterations: SealedFormat.loginIterations),
                     "a wrong password finds no bundle at all (a plain 404 for the browser)")
    }

    /// Found by the crash suite: a sweep killed after a first contact and before its commit
    /// left the bundle; the recipient could sign in with the given password and read, and the
    /// next sweep made another mailbox, so that read (and its receipt token) counted for nothing.
    func testAGivenPasswordsBundleLeftByAKilledSweepIsKeptWithItsMailboxAndKey() throws {
        let contact = FirstContact(www: www, installationSalt: salt, iterations: 1000)
        let first = try contact.register("dora@ext.example", password: "given-pw-123", now: Date())
        let again = try contact.register("dora@ext.example", password: "given-pw-123", now: Date())
        XCTAssertEqual(again.recipient.mailboxID, first.recipient.mailboxID)
        XCTAssertEqual(again.recipient.publicKey, first.recipient.publicKey)
        XCTAssertEqual(again.bundleFile, first.bundleFile)
        // Generated passwords are new each time (nobody has seen the old one): a new mailbox.
        let g1 = try contact.register("erin@ext.example", password: nil, now: Date())
        let g2 = try contact.register("erin@ext.example", password: nil, now: Date())
        XCTAssertNotEqual(g1.recipient.mailboxID, g2.recipient.mailboxID)
    }

    func testGeneratedPasswordIsReturnedOnceAndWrittenNowhere() throws {
        let result = try FirstContact(www: www, installationSalt: salt, iterations: 1000).register("carol@ext.example",
                                                                                                  password: nil, now: Date())
        let password = try XCTUnwrap(result.generatedPassword)
        XCTAssertNotNil(try bundle(for: "carol@ext.example", password: password, iterations: 1000))
        let files = FileManager.default.enumerator(atPath: www.root)!.compactMap { $0 as? String }
        XCTAssertEqual(files.filter { $0.hasPrefix("k/") && $0.hasSuffix(".json") }.count, 1)
        for file in files {
            guard let data = FileManager.default.contents(atPath: www.root.appending(path: file)) else { continue }
            XCTAssertNil(data.range(of: Data(password.utf8)), "\(file) holds the password")
            XCTAssertNil(data.range(of: Data("carol".utf8)), "\(file) names the recipient")
        }
    }

    func testRecipientIsRecordedWithItsPublicKeyOnly() throws {
        // A state folder of its own: the state store refuses one that holds the web root.
        let state = dir.file("state")
        let store = try StateStore(directory: state)
        let result = try FirstContact(www: www, installationSalt: try store.installationSalt(), iterations: 1000)
            .register("dave@ext.example", password: "pw-dave-1", now: Date(timeIntervalSince1970: 1_800_000_000))
        var writes = BatchWrites()
        writes.recipients = [result.recipient]
        try store.record(accepted: [], rejected: [], writes: writes)
        XCTAssertEqual(try store.recipients(["dave@ext.example", "eve@ext.example"]), ["dave@ext.example": result.recipient])
        XCTAssertEqual(try store.installationSalt(), try store.installationSalt(), "the salt is made once")
        for file in try FileManager.default.contentsOfDirectory(atPath: state) where file.hasPrefix("spoolrun.sqlite") {
            let data = FileManager.default.contents(atPath: state.appending(path: file)) ?? Data()
            XCTAssertNil(data.range(of: Data("pw-dave-1".utf8)), file)
        }
    }

    func testPortalParametersPublishTheSaltAndTheIterations() throws {
        try www.writeParameters(installationSalt: salt)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: www.parametersPath))) as? [String: Any]
        XCTAssertEqual(json?["v"] as? Int, 1)
        XCTAssertEqual((json?["salt"] as? String).flatMap(Base64URL.decode), salt)
        XCTAssertEqual(json?["iterations"] as? Int, 600_000)
    }

    func testTheBrowsersCodeOpensTheBundleWithThePassword() throws {
        let result = try FirstContact(www: www, installationSalt: salt, iterations: 2000).register("frank@ext.example",
                                                                                                  password: "pw-frank", now: Date())
        let login = try RecipientLogin.derive(address: "frank@ext.example", password: "pw-frank", installationSalt: salt, iterations: 2000)
        let bundleJSON = try String(contentsOfFile: www.bundlePath(locator: login.locator), encoding: .utf8)
        let context = SealedFormat.ObjectContext(mailboxID: result.recipient.mailboxID, messageID: "m1", objectName: "body")
        let sealed = try SealedFormat.seal(Array("hello frank".utf8), to: try P256PublicKey(point: result.recipient.publicKey),
                                           context: context)
        let request: [String: Any] = [
            "op": "unwrap", "bundle_json": bundleJSON, "address": "frank@ext.example", "password": "pw-frank",
            "installation_salt": Base64URL.encode(salt), "iterations": 2000, "sealed": Base64URL.encode(sealed),
            "context": ["mailbox": context.mailboxID, "message": "m1", "object": "body"],
        ]
        let r = try Shell.run("node", [Paths.repo.appending(path: "Tests/JavaScript/cross.mjs")],
                              stdin: try JSONSerialization.data(withJSONObject: request), timeout: 60)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let answer = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
        XCTAssertEqual(answer?["locator"] as? String, login.locator)
        XCTAssertEqual((answer?["opened"] as? String).flatMap(Base64URL.decode), Array("hello frank".utf8))
    }
}
