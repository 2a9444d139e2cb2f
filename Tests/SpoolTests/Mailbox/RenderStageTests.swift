// The render step: every message sealed into each recipient's mailbox, readable with that
// recipient's password only, nothing in clear under www/, and re-rendering idempotent.
import Crypto
import Foundation
import Logging
@testable import Spool
import TestSupport
import XCTest
@testable import Tunnel

final class RenderStageTests: XCTestCase {
    var dir: TemporaryDirectory!
    var config: SpoolrunConfig!
    var gateway: GatewayConfig!
    let iterations = 1000

    override func setUpWithError() throws {
        dir = try TemporaryDirectory()
        let inst = try Setup.run(SetupOptions(directory: dir.file("inst")))
        config = try SpoolrunConfig.load(path: inst.config)
        gateway = try GatewayConfig.load(path: inst.gatewayConfig)
    }

    static let attachment = Array("MARKER-ATTACHMENT-7Q3 quarterly figures\n".utf8)
    static let image: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array("MARKER-IMAGE-9Z".utf8)
    let original = Array("""
        From: Alice <alice@corp.example>\r
        To: Bob <bob@ext.example>\r
        Subject: MARKER-SUBJECT-4K8 merger\r
        Date: Wed, 25 Nov 2026 10:00:00 +0000\r
        MIME-Version: 1.0\r
        Content-Type: multipart/mixed; boundary="outer"\r
        \r
        --outer\r
        Content-Type: multipart/related; boundary="rel"\r
        \r
        --rel\r
        Content-Type: text/html; charset=utf-8\r
        \r
        <p>MARKER-HTML-2W5 <img src="cid:logo@corp"><script>alert(1)</script></p>\r
        --rel\r
        Content-Type: image/png\r
        Content-ID: <logo@corp>\r
        Content-Transfer-Encoding: base64\r
        \r
        \(Data(image).base64EncodedString())\r
        --rel--\r
        --outer\r
        Content-Type: text/plain; name="figures.txt"\r
        Content-Disposition: attachment; filename="figures.txt"\r
        Content-Transfer-Encoding: base64\r
        \r
        \(Data(attachment).base64EncodedString())\r
        --outer--\r

        """.utf8)

    func deliver(_ original: [UInt8], to recipients: [String], passwords: [String: String] = [:], name: String) throws {
        var options = WrapOptions(recipients: recipients)
        options.passwords = passwords
        let tunnel = try Wrapper.wrap(original, config: gateway, options: options)
        try FileSystem.writeAtomically(tunnel, to: config.spool + "/new/" + name)
    }

    func sweep(at date: Date = Date()) throws -> SweepSummary {
        try Sweep(config: config, logger: Logger(label: "test"), batchStages: [RenderStage(loginIterations: iterations)],
                  clock: { date }).run()
    }

    /// Signs in as the portal does: derive the login, fetch the bundle, unwrap the key.
    func signIn(_ address: String, _ password: String) throws -> (P256KeyPair, String)? {
        let www = PortalFiles(root: config.www)
        let params = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: www.parametersPath))) as! [String: Any]
        let salt = Base64URL.decode(params["salt"] as! String)!
        let login = try RecipientLogin.derive(address: address, password: password, installationSalt: salt, iterations: iterations)
        guard let data = FileManager.default.contents(atPath: www.bundlePath(locator: login.locator)) else { return nil }
        let bundle = try KeyBundle(json: [UInt8](data))
        return (try bundle.unwrap(with: login), bundle.mailboxID)
    }

    func open(_ key: P256KeyPair, _ mailbox: String, _ message: String, _ object: String) throws -> [UInt8] {
        let path = PortalFiles(root: config.www).mailboxPath(mailbox) + "/\(message)/\(object)"
        return try SealedFormat.open([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), with: key,
                                     context: .init(mailboxID: mailbox, messageID: message, objectName: object))
    }

    func index(_ mailbox: String) throws -> [[String: Any]] {
        let path = PortalFiles(root: config.www).mailboxPath(mailbox) + "/index.json"
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        return json["entries"] as! [[String: Any]]
    }

    func testEachRecipientReadsTheSealedMessageWithTheirPasswordOnly() throws {
        try deliver(original, to: ["bob@ext.example", "carol@ext.example"], passwords: ["bob@ext.example": "pw-bob-render-1"], name: "m1")
        XCTAssertEqual(try sweep().accepted, 1)

        XCTAssertNil(try signIn("bob@ext.example", "pw-bob-2"), "a wrong password finds no bundle")
        let (bob, mailbox) = try XCTUnwrap(try signIn("bob@ext.example", "pw-bob-render-1"))
        let entries = try index(mailbox)
        XCTAssertEqual(entries.count, 1)
        let id = entries[0]["id"] as! String
        let entry = try JSONSerialization.jsonObject(with: Data(try SealedFormat.open(
            Base64URL.decode(entries[0]["entry"] as! String)!, with: bob,
            context: .init(mailboxID: mailbox, messageID: id, objectName: "entry")))) as! [String: Any]
        XCTAssertEqual(entry["subject"] as? String, "MARKER-SUBJECT-4K8 merger")
        XCTAssertEqual(entry["attachments"] as? Int, 1)

        let body = try JSONSerialization.jsonObject(with: Data(try open(bob, mailbox, id, "body"))) as! [String: Any]
        XCTAssertEqual(body["format"] as? String, "html")
        let html = body["body"] as! String
        XCTAssertTrue(html.contains("MARKER-HTML-2W5"), html)
        XCTAssertFalse(html.contains("<script"), "the body is sanitized")
        let parts = body["attachments"] as! [[String: Any]]
        let inline = try XCTUnwrap(parts.first { $0["inline"] as? Bool == true })
        XCTAssertTrue(html.contains("src=\"\(inline["object"] as! String)\""), "cid: points at the sealed image: \(html)")
        XCTAssertEqual(try open(bob, mailbox, id, inline["object"] as! String), Self.image)
        let file = try XCTUnwrap(parts.first { $0["name"] as? String == "figures.txt" })
        XCTAssertEqual(try open(bob, mailbox, id, file["object"] as! String), Self.attachment)
        XCTAssertEqual(try open(bob, mailbox, id, "eml"), original, "the original .eml, byte for byte")

        // Carol had no password in the envelope: hers was generated and queued, sealed, for Alice.
        let store = try StateStore(directory: config.state)
        let notices = try store.queuedOutbox().filter { $0.kind == .passwordNotice }
        XCTAssertEqual(notices.count, 1)
        XCTAssertEqual(notices[0].recipient, "alice@corp.example")
        let text = String(decoding: try OutboxKey.loadOrCreate(path: config.outboxKey).message(of: notices[0]), as: UTF8.self)
        XCTAssertTrue(text.contains("carol@ext.example"), "the notice names the recipient")
        let notice = (password: try XCTUnwrap(PasswordFinder.first(in: text), "the notice carries the password"), recipient: "carol@ext.example")
        let (carol, carolsMailbox) = try XCTUnwrap(try signIn("carol@ext.example", notice.password))
        XCTAssertNotEqual(carolsMailbox, mailbox)
        XCTAssertThrowsError(try open(carol, mailbox, id, "body"), "Carol's key opens nothing of Bob's")
        XCTAssertNil(try signIn("bob@ext.example", notice.password), "Carol's password with Bob's address finds nothing")
    }

    func testMegabyteAttachmentsAndTheOriginalAreSealedByteForByte() throws {
        // Large enough to cross every chunked step (reading, decoding, decrypting, sealing).
        var rng = SeededGenerator(seed: 25)
        let files = [2_000_003, 700_000].map { n in (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        var text = "From: Alice <alice@corp.example>\r\nTo: <hugo@ext.example>\r\nSubject: data set\r\nMIME-Version: 1.0\r\n"
            + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nattached\r\n"
        for (i, file) in files.enumerated() {
            text += "--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"f\(i).bin\"\r\n"
                + "Content-Transfer-Encoding: base64\r\n\r\n"
                + Data(file).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
                + "\r\n"
        }
        let original = Array((text + "--b1--\r\n").utf8)
        try deliver(original, to: ["hugo@ext.example"], passwords: ["hugo@ext.example": "pw-hugo-render-1"], name: "m1")
        XCTAssertEqual(try sweep().accepted, 1)

        let (hugo, mailbox) = try XCTUnwrap(try signIn("hugo@ext.example", "pw-hugo-render-1"))
        let id = try index(mailbox)[0]["id"] as! String
        let body = try JSONSerialization.jsonObject(with: Data(try open(hugo, mailbox, id, "body"))) as! [String: Any]
        let parts = body["attachments"] as! [[String: Any]]
        XCTAssertEqual(parts.map { $0["name"] as! String }, ["f0.bin", "f1.bin"])
        for (part, file) in zip(parts, files) {
            XCTAssertEqual(part["size"] as? Int, file.count)
            XCTAssertEqual(try open(hugo, mailbox, id, part["object"] as! String), file, "\(part["name"]!)")
        }
        XCTAssertEqual(try open(hugo, mailbox, id, "eml"), original, "the original .eml, byte for byte")
    }

    func testNothingUnderWWWOrInTheStateStoreIsInClear() throws {
        try deliver(original, to: ["dave@ext.example"], passwords: ["dave@ext.example": "pw-MARKER-PASSWORD"], name: "m1")
        XCTAssertEqual(try sweep().accepted, 1)
        let markers = ["MARKER-SUBJECT", "MARKER-HTML", "MARKER-ATTACHMENT", "MARKER-IMAGE", "MARKER-PASSWORD", "dave@",
                       "alice@corp", "merger"]
        for root in [config.www, config.state] {
            for file in FileManager.default.enumerator(atPath: root)!.compactMap({ $0 as? String }) {
                guard let data = FileManager.default.contents(atPath: root + "/" + file) else { continue }
                for marker in markers where !(root == config.state && (marker == "dave@" || marker == "alice@corp")) {
                    XCTAssertNil(data.range(of: Data(marker.utf8)), "\(root)/\(file) contains \(marker)")
                }
            }
        }
    }

    func testIndexListsMessagesNewestFirst() throws {
        try deliver(original, to: ["erin@ext.example"], passwords: ["erin@ext.example": "pw-erin-render-1"], name: "m1")
        XCTAssertEqual(try sweep(at: Date(timeIntervalSinceNow: -60)).accepted, 1)
        try deliver(original, to: ["erin@ext.example"], name: "m2")
        XCTAssertEqual(try sweep().accepted, 1)
        let (_, mailbox) = try XCTUnwrap(try signIn("erin@ext.example", "pw-erin-render-1"))
        let entries = try index(mailbox)
        XCTAssertEqual(entries.count, 2)
        let received = entries.map { $0["received"] as! String }
        XCTAssertEqual(received, received.sorted(by: >))
        let store = try StateStore(directory: config.state)
        XCTAssertEqual(try store.queuedOutbox().filter { $0.kind == .passwordNotice }.count, 0, "a known recipient gets no new password")
    }

    func testARecipientMetOnlyThroughAMessageThatIsRefusedGetsNoRecordBundleOrPasswordNotice() throws {
        // Nested deeper than the parser's limit: accepted by the intake, refused when parsed.
        var deep = "From: Alice <alice@corp.example>\r\nTo: x@ext.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
        for level in 0..<40 { deep += "Content-Type: multipart/mixed; boundary=\"b\(level)\"\r\n\r\n--b\(level)\r\n" }
        deep += "Content-Type: text/plain\r\n\r\ndeep\r\n"
        for level in (0..<40).reversed() { deep += "--b\(level)--\r\n" }
        try deliver(Array(deep.utf8), to: ["nora@ext.example"], name: "deep")
        let summary = try sweep()
        XCTAssertEqual(summary.rejected, 1)
        XCTAssertEqual(try String(contentsOfFile: config.spool + "/failed/deep.reason", encoding: .utf8).prefix(14), "malformed-mime")
        let store = try StateStore(directory: config.state)
        XCTAssertEqual(try store.recipients(["nora@ext.example"]).count, 0, "no recipient record")
        XCTAssertEqual(try store.queuedOutbox().count, 0, "no password notice, no notification")
        let bundles = (try? FileManager.default.contentsOfDirectory(atPath: config.www + "/k")) ?? []
        XCTAssertEqual(bundles, [], "no key bundle is left behind")

        // The same recipient's first good message then meets them as usual.
        try deliver(original, to: ["nora@ext.example"], name: "good")
        XCTAssertEqual(try sweep().accepted, 1)
        XCTAssertEqual(try store.recipients(["nora@ext.example"]).count, 1)
        XCTAssertEqual(try store.queuedOutbox().filter { $0.kind == .passwordNotice }.count, 1)
    }

    func testRenderingTheSameMessageAgainLeavesTheSameSetOfFiles() throws {
        try deliver(original, to: ["frank@ext.example"], passwords: ["frank@ext.example": "pw-frank-render-1"], name: "m1")
        let tunnel = try FileManager.default.contents(atPath: config.spool + "/new/m1").map { [UInt8]($0) }!
        let intake = Intake(config: config, opener: try KeyFiles.tunnelOpener(for: config))
        let accepted = try intake.check(tunnel, now: Date()).get()
        try FileSystem.makeDirectory(config.state, mode: 0o700)
        let store = try StateStore(directory: config.state)
        let context = SweepContext(config: config, spool: SpoolDirectory(root: config.spool), store: store, now: Date())
        func render() throws -> [String] {
            var items = [BatchItem(spoolName: "m1", digest: "d", size: tunnel.count, outcome: .accepted(accepted))]
            var writes = BatchWrites()
            try RenderStage(loginIterations: iterations).run(&items, writes: &writes, context: context)
            try store.record(accepted: [], rejected: [], writes: writes)
            return FileManager.default.enumerator(atPath: config.www)!.compactMap { $0 as? String }.sorted()
        }
        let first = try render()
        XCTAssertEqual(try render(), first)
        let (_, mailbox) = try XCTUnwrap(try signIn("frank@ext.example", "pw-frank-render-1"))
        XCTAssertEqual(try index(mailbox).count, 1, "no duplicate entry")
    }

    func testUnreadableOriginalIsQuarantinedAsMalformedMIME() throws {
        let huge = Array("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n".utf8)
            + Array(String(repeating: "--x\r\n\r\n", count: 3000).utf8)
        try deliver(huge, to: ["gina@ext.example"], passwords: ["gina@ext.example": "pw-gina-render-1"], name: "m1")
        let summary = try sweep()
        XCTAssertEqual(summary.rejected, 1)
        let reason = try String(contentsOfFile: config.spool + "/failed/m1.reason", encoding: .utf8)
        XCTAssertTrue(reason.hasPrefix("malformed-mime\n"), reason)
    }
}
