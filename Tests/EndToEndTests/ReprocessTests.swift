// `spoolrun reprocess` (issue 6): renders archived messages again. The same readable content,
// no mail unless asked, idempotent (a second run changes no file), the sweep lock, one
// recipient only, and the portal app refreshed — with every mailbox still opening in Chromium.
import Crypto
import Foundation
import TestSupport
import XCTest

final class ReprocessTests: XCTestCase {
    static let passwords = ["bob@ext.test": "pw-bob-reprocess", "carol@ext.test": "pw-carol-reprocess"]

    private func original(_ subject: String, attachment: String? = nil) -> Data {
        var text = "From: Alice <alice@corp.example>\r\nTo: bob@ext.test, carol@ext.test\r\nSubject: \(subject)\r\n"
            + "Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        if let attachment {
            text += "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nBody of \(subject)\r\n"
                + "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n"
                + "Content-Transfer-Encoding: base64\r\n\r\n\(Data(attachment.utf8).base64EncodedString())\r\n--b--\r\n"
        } else {
            text += "Content-Type: text/plain\r\n\r\nBody of \(subject) https://example.com/x\r\n"
        }
        return Data(text.utf8)
    }

    /// An installation with three messages swept in: two to Bob and Carol (one with an
    /// attachment), one OTP PDF to Bob; mail goes to a command that accepts everything.
    private func populated() throws -> TestInstallation {
        let inst = try TestInstallation()
        try inst.setConfig("sendmail", "\"/bin/true\"")
        let pw = Self.passwords.flatMap { ["--password", "\($0.key)=\($0.value)"] }
        try inst.deliver(try inst.wrap(original("First", attachment: "ATT-1"), arguments: ["--to", "bob@ext.test", "--to", "carol@ext.test"] + pw), name: "m1")
        XCTAssertEqual(try inst.sweep().status, 0)
        try inst.deliver(try inst.wrap(original("Second"), arguments: ["--to", "bob@ext.test", "--to", "carol@ext.test", "--read-receipt"] + pw), name: "m2")
        try inst.deliver(try inst.wrap(original("Third, a PDF"), arguments: ["--to", "bob@ext.test", "--otp-pdf"]), name: "m3")
        XCTAssertEqual(try inst.sweep().status, 0)
        return inst
    }

    private func reprocess(_ inst: TestInstallation, _ args: [String], environment: [String: String] = [:]) throws -> ProcessResult {
        try Shell.run(Paths.spoolrun, ["reprocess", "--config", inst.config] + args, environment: environment, timeout: 300)
    }

    /// Every file under www/ with its bytes' digest, inode and modification time.
    private func files(_ inst: TestInstallation) -> [String: String] {
        let www = inst.root.appending(path: "www")
        var out: [String: String] = [:]
        let e = FileManager.default.enumerator(atPath: www)
        while let rel = e?.nextObject() as? String {
            var st = stat()
            guard stat(www.appending(path: rel), &st) == 0, st.st_mode & S_IFMT == S_IFREG,
                  let data = FileManager.default.contents(atPath: www.appending(path: rel)) else { continue }
            out[rel] = "\(SHA256.hex(data)) ino=\(st.st_ino) mtime=\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        }
        return out
    }

    /// What each recipient reads, opened as the portal does: index entries and every object.
    private func readable(_ inst: TestInstallation) throws -> [String: String] {
        let www = inst.root.appending(path: "www")
        let params = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: www.appending(path: "portal.json")))) as? [String: Any])
        let salt = try XCTUnwrap((params["salt"] as? String).flatMap(Base64URL.decode))
        var out: [String: String] = [:]
        for (address, password) in Self.passwords {
            let login = try RecipientLogin.derive(address: address, password: password, installationSalt: salt, iterations: SealedFormat.loginIterations)
            let bundle = try KeyBundle(json: [UInt8](Data(contentsOf: URL(fileURLWithPath: www.appending(path: "k/\(login.locator).json")))))
            let key = try bundle.unwrap(with: login)
            let mailbox = bundle.mailboxID
            let index = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: www.appending(path: "m/\(mailbox)/index.json")))) as? [String: Any])
            for (n, e) in (index["entries"] as? [[String: Any]] ?? []).enumerated() {
                let id = try XCTUnwrap(e["id"] as? String)
                let entry = try SealedFormat.open(try XCTUnwrap(Base64URL.decode(e["entry"] as? String ?? "")), with: key,
                                                  context: .init(mailboxID: mailbox, messageID: id, objectName: "entry"))
                out["\(address) #\(n) entry"] = String(decoding: entry, as: UTF8.self)
                for object in try FileManager.default.contentsOfDirectory(atPath: www.appending(path: "m/\(mailbox)/\(id)")) {
                    let sealed = try Data(contentsOf: URL(fileURLWithPath: www.appending(path: "m/\(mailbox)/\(id)/\(object)")))
                    let plain = try SealedFormat.open([UInt8](sealed), with: key, context: .init(mailboxID: mailbox, messageID: id, objectName: object))
                    out["\(address) \(id) \(object)"] = SHA256.hex(plain)
                }
            }
        }
        return out
    }

    private func outboxCount(_ inst: TestInstallation) throws -> Int {
        let r = try Shell.check(Paths.spoolrun, ["outbox", "list", "--config", inst.config, "--json"])
        return (try JSONSerialization.jsonObject(with: r.stdout) as? [Any])?.count ?? -1
    }

    private func sql(_ inst: TestInstallation, _ statement: String) throws {
        let db = inst.root.appending(path: "state/spoolrun.sqlite")
        try Shell.check("/usr/bin/python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()", db, statement])
    }

    // MARK: - Tests

    func testReprocessAllRewritesTheSameReadableContentQueuesNoMailAndASecondRunChangesNoFile() throws {
        let inst = try populated()
        let content = try readable(inst)
        XCTAssertEqual(content.keys.filter { $0.hasSuffix(" entry") }.count, 5, "Bob has three messages, Carol two")
        let mail = try outboxCount(inst)
        let before = files(inst)
        // As after an upgrade: no render is known to be current, so every one is written again.
        try sql(inst, "UPDATE deliveries SET render_digest = NULL")

        let first = try reprocess(inst, ["--all"])
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertTrue(first.out.contains("3 message(s) selected, 5 mailbox cop(ies) rewritten, 0 unchanged, 0 failed"), first.out)
        XCTAssertTrue(first.out.contains("mail queued: 0"), first.out)
        XCTAssertTrue(first.err.contains("reprocess progress") && first.err.contains("done=3 eta_s=0 total=3"),
                      "without a terminal: plain log lines: \(first.err)")
        let after = files(inst)
        XCTAssertEqual(Set(after.keys), Set(before.keys), "the same file set")
        XCTAssertNotEqual(after.filter { $0.key.hasPrefix("m/") }, before.filter { $0.key.hasPrefix("m/") }, "the objects were sealed again")
        XCTAssertEqual(try readable(inst), content, "the same decrypted index and messages")
        XCTAssertEqual(try outboxCount(inst), mail, "no mail queued")

        let second = try reprocess(inst, ["--all"])
        XCTAssertEqual(second.status, 0, second.err)
        XCTAssertTrue(second.out.contains("0 mailbox cop(ies) rewritten, 5 unchanged"), second.out)
        XCTAssertEqual(files(inst), after, "a second run changes no file: bytes, inode and modification time")
        // On a terminal (script(1) gives it one): a progress bar with the count and an ETA.
        guard let script = Tools.which("script") else { throw MissingTool("script (util-linux)") }
        let command = ([Paths.spoolrun, "reprocess", "--config", inst.config, "--all"]).map { "'\($0)'" }.joined(separator: " ")
        let tty = try Shell.run(script, ["-qec", command, "/dev/null"], timeout: 300)
        XCTAssertEqual(tty.status, 0, tty.out + tty.err)
        XCTAssertTrue(tty.out.contains("] 3/3  ETA 0:00"), "a progress bar: \(tty.out)")
        XCTAssertEqual(files(inst), after, "and still no file changed")
        XCTAssertEqual(try readable(inst), content)
    }

    func testReprocessRestoresLostFilesAndWithNotifyQueuesTheMailAgain() throws {
        let inst = try populated()
        let content = try readable(inst)
        let mail = try outboxCount(inst)
        // A web root restored from an old backup lacks a message's files.
        let m = inst.root.appending(path: "www/m")
        let mailbox = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: m).first)
        let message = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: m.appending(path: mailbox)).first { $0 != "index.json" })
        try FileManager.default.removeItem(atPath: m.appending(path: "\(mailbox)/\(message)"))

        let r = try reprocess(inst, ["--all", "--notify"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try readable(inst), content, "the lost message is back, and everything reads as before")
        // Two notifications for each of the first two messages, one PDF mail for the third.
        XCTAssertEqual(try outboxCount(inst), mail + 5, "--notify queues each recipient's mail again")
        XCTAssertTrue(r.out.contains("mail queued: 5"), r.out)
    }

    func testReprocessOfOneRecipientWritesOnlyTheirMailboxAndOfOneMessageOnlyItsCopies() throws {
        let inst = try populated()
        try sql(inst, "UPDATE deliveries SET render_digest = NULL")
        let before = files(inst)
        let r = try reprocess(inst, ["--recipient", "Carol@Ext.test"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("2 message(s) selected, 2 mailbox cop(ies) rewritten"), r.out)
        let changed = files(inst).filter { before[$0.key] != $0.value }.keys
        let mailboxes = Set(changed.filter { $0.hasPrefix("m/") }.map { $0.split(separator: "/")[1] })
        XCTAssertEqual(mailboxes.count, 1, "only Carol's mailbox is written: \(changed.sorted())")

        let unknown = try reprocess(inst, ["--message", "no-such-envelope-id"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.err.contains("no accepted message has the envelope id no-such-envelope-id"), unknown.err)
        let none = try reprocess(inst, ["--all", "--since", "2026-01-01"])
        XCTAssertNotEqual(none.status, 0, "one selection at a time")
        XCTAssertTrue(none.err.contains("exactly one of"), none.err)
    }

    func testReprocessWaitsForNoSweepItTakesTheSweepLock() throws {
        let inst = try populated()
        // Held here as a running sweep holds it (flock on state/sweep.lock).
        let fd = open(inst.root.appending(path: "state/sweep.lock"), O_RDWR | O_CREAT, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        XCTAssertEqual(flock(fd, LOCK_EX | LOCK_NB), 0)
        let r = try reprocess(inst, ["--all"])
        XCTAssertEqual(r.status, 75, "EX_TEMPFAIL: \(r.err)")
        XCTAssertTrue(r.err.contains("sweep.lock"), r.err)
    }

    func testAfterAnAppUpgradeReprocessInstallsTheNewAppAndEveryMailboxStillOpensInChromium() throws {
        guard WebDriver.chromedriverPath != nil, WebDriver.chromiumPath != nil else { throw MissingTool("chromedriver or chromium") }
        guard NginxServer.nginxPath != nil else { throw MissingTool("nginx") }
        let scratch = try TemporaryDirectory("spoolrun-upgrade")
        let port = try LocalPorts.free()
        let inst = try TestInstallation(listen: "127.0.0.1:\(port)")
        try inst.setConfig("sendmail", "\"/bin/true\"")
        let pw = Self.passwords.flatMap { ["--password", "\($0.key)=\($0.value)"] }
        try inst.deliver(try inst.wrap(original("Before the upgrade"), arguments: ["--to", "bob@ext.test", "--to", "carol@ext.test"] + pw), name: "m1")
        XCTAssertEqual(try inst.sweep().status, 0)

        // The new release's app: the repository's, with a changed title.
        let app = scratch.file("app")
        try Shell.check("cp", ["-R", Paths.repo.appending(path: "www"), app])
        for sub in ["m", "k", "mbox"] { try? FileManager.default.removeItem(atPath: app.appending(path: sub)) }
        let strings = app.appending(path: "assets/strings.js")
        let text = try String(contentsOfFile: strings, encoding: .utf8)
        try text.replacingOccurrences(of: "title: \"Secure mail portal\"", with: "title: \"Secure mail portal 2\"")
            .write(toFile: strings, atomically: true, encoding: .utf8)
        let r = try reprocess(inst, ["--all"], environment: ["SPOOLRUN_APP": app])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("portal app files updated: 1"), r.out)

        let nginx = try NginxServer(root: inst.root, port: port)
        defer { nginx.stop() }
        let b = try WebDriver(downloadDirectory: scratch.file("downloads"))
        defer { b.quit() }
        for (address, password) in Self.passwords.sorted(by: { $0.key < $1.key }) {
            try b.navigate(nginx.base + "/")
            XCTAssertTrue(try b.poll(attempts: 100) { (try b.execute("return document.title") as? String) == "Secure mail portal 2" },
                          "the new app is served")
            try b.submitPortalSignIn(address, password)
            try b.click(try b.waitFor("#entries .entry", attempts: 300))
            let frame = try b.waitFor("#message-body", attempts: 300)
            XCTAssertTrue(try b.poll(attempts: 100) {
                ((try b.execute("return arguments[0].srcdoc", [WebDriver.argument(frame)]) as? String) ?? "").contains("Body of Before the upgrade")
            }, "\(address)'s message opens after the upgrade")
            try b.click(try XCTUnwrap(try b.find("#sign-out")))
        }
    }
}
