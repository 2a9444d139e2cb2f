// OTP mode end to end (DESIGN §7): `spoolrun wrap --otp-pdf` and `spoolrun run` mail each
// recipient an AES-256 PDF over real SMTP (msmtp to aiosmtpd), and headless Chromium, signed
// in to the portal served by nginx from setup's config, shows the one-time password next to
// the password id the mail names. That password, as the page shows it, is what qpdf,
// pdftotext and pdfdetach (poppler) are given.
import Foundation
import TestSupport
import XCTest

final class OTPDeliveryTests: XCTestCase {
    private var scratch: TemporaryDirectory!
    private var nginx: NginxServer?
    private var browser: WebDriver?
    private var sink: SMTPSink?
    private var inst = ""
    private var base = ""

    static let bob = "bob@ext.test", bobPassword = "pw-bob-otp-1"
    static let dora = "dora@ext.test", doraPassword = "pw-dora-otp-2"
    private let tag = String(UInt32.random(in: 100_000...999_999))
    static let cyrillic = "Съешь же ещё этих мягких французских булок"
    static let greek = "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία"

    /// Attachment bytes that are not text, so any re-encoding on the way would show.
    private lazy var attachments: [(name: String, data: [UInt8])] = {
        var rng = SeededGenerator(seed: 5)
        return [("figures-\(tag).bin", (0..<300_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }),
                ("Bericht-\(tag) März.txt", Array("MARKER-ATT-\(tag)\n".utf8))]
    }()

    private func original(subject: String) -> Data {
        var text = """
            From: Alice Example <alice@corp.example>\r
            To: Bob <bob@ext.test>, dora@ext.test\r
            Subject: \(subject)\r
            Date: Wed, 25 Nov 2026 10:00:00 +0000\r
            MIME-Version: 1.0\r
            Content-Type: multipart/mixed; boundary="b"\r
            \r
            --b\r
            Content-Type: text/plain; charset=utf-8\r
            Content-Transfer-Encoding: 8bit\r
            \r
            MARKER-BODY-\(tag) the figures.\r
            \(Self.cyrillic)\r
            \(Self.greek)\r

            """
        for a in attachments {
            text += "--b\r\nContent-Type: application/octet-stream\r\n"
                + "Content-Disposition: attachment; filename*=utf-8''\(a.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)\r\n"
                + "Content-Transfer-Encoding: base64\r\n\r\n"
                + Data(a.data).base64EncodedString(options: .lineLength76Characters).replacingOccurrences(of: "\n", with: "\r\n") + "\r\n"
        }
        return Data((text + "--b--\r\n").utf8)
    }

    override func setUpWithError() throws {
        guard WebDriver.chromedriverPath != nil, WebDriver.chromiumPath != nil else { throw MissingTool("chromedriver or chromium") }
        guard NginxServer.nginxPath != nil else { throw MissingTool("nginx") }
        for tool in ["qpdf", "pdftotext", "pdfdetach"] where Tools.which(tool) == nil { throw MissingTool(tool) }
        scratch = try TemporaryDirectory("spoolrun-otp")
        inst = scratch.file("inst")
        let port = try LocalPorts.free()
        try Shell.check(Paths.spoolrun, ["setup", "--dir", inst, "--listen", "127.0.0.1:\(port)",
                                         "--recipient-address", "webmail@portal.test",
                                         "--sender-address", "webmail-sender@gateway.test"], timeout: 120)
        let smtp = try SMTPSink()
        sink = smtp
        let config = inst.appending(path: "spoolrun.toml")
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(of: #"(?m)^sendmail = .*$"#, with: "sendmail = \"\(smtp.sendmailCommand)\"",
                                         options: .regularExpression)
        try text.write(toFile: config, atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        browser?.quit()
        browser = nil
        nginx?.stop()
        nginx = nil
        sink?.stop()
        sink = nil
        scratch = nil
        super.tearDown()
    }

    // MARK: - Helpers

    private func send(_ original: Data, to recipients: [String], passwords: [String: String], name: String) throws {
        var args = ["wrap", "--config", (inst + "-gateway").appending(path: "gateway.toml"), "--otp-pdf"]
        for r in recipients { args += ["--to", r] }
        for (a, p) in passwords { args += ["--password", "\(a)=\(p)"] }
        let tunnel = try Shell.check(Paths.spoolrun, args, stdin: original, timeout: 60).stdout
        let tmp = inst.appending(path: "spool/tmp/\(name)")
        try tunnel.write(to: URL(fileURLWithPath: tmp))
        XCTAssertEqual(rename(tmp, inst.appending(path: "spool/new/\(name)")), 0)
    }

    private func sweep() throws -> ProcessResult {
        let r = try Shell.run(Paths.spoolrun, ["run", "--config", inst.appending(path: "spoolrun.toml")], timeout: 300)
        XCTAssertEqual(r.status, 0, r.err)
        return r
    }

    private func startPortal() throws -> WebDriver {
        let text = try String(contentsOfFile: inst.appending(path: "nginx.conf"), encoding: .utf8)
        let port = try XCTUnwrap(text.firstMatch(of: /listen 127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) }, "nginx.conf listens on 127.0.0.1")
        let server = try NginxServer(root: inst, port: port)
        nginx = server
        base = server.base + "/"
        let b = try WebDriver(downloadDirectory: scratch.file("downloads"))
        browser = b
        return b
    }

    private func signIn(_ b: WebDriver, _ address: String, _ password: String) throws {
        try b.navigate(base)
        try b.submitPortalSignIn(address, password)
        _ = try b.waitFor("#entries .entry", attempts: 300)
    }

    /// What the portal shows for each message of the signed-in mailbox: password id -> (password, subject).
    private func shownPasswords(_ b: WebDriver, expecting count: Int) throws -> [String: (password: String, subject: String)] {
        XCTAssertTrue(try b.poll(attempts: 300) { try b.findAll("#entries .entry").count == count })
        var out: [String: (String, String)] = [:]
        for n in 0..<count {
            let entry = try b.findAll("#entries .entry")[n]
            let listed = try b.text(entry)
            try b.click(entry)
            let password = try b.waitFor("#otp-password", attempts: 300)
            XCTAssertTrue(try b.poll(attempts: 300) { try b.displayed(password) && !(try b.text(password)).isEmpty })
            let id = try b.text(try XCTUnwrap(try b.find("#otp-id")))
            XCTAssertTrue(listed.contains("Protected PDF \(id)"), "the inbox entry names the password id: \(listed)")
            let subject = try b.text(try XCTUnwrap(try b.find("#message-subject")))
            out[id] = (try b.text(password), subject)
            try b.click(try XCTUnwrap(try b.find("#back")))
            _ = try b.waitFor("#entries .entry", attempts: 300)
        }
        return out
    }

    /// Each mail's PDF: the password id its text names, the PDF saved to a file, the mail.
    private func mailedPDFs(_ count: Int) throws -> [(to: String, id: String, pdf: String, text: String)] {
        let sink = try XCTUnwrap(sink)
        let received = try sink.wait(for: count, timeout: 60)
        XCTAssertEqual(received.count, count)
        let parsed = try sink.checkAll()
        var out: [(String, String, String, String)] = []
        for r in received {
            let report = try XCTUnwrap(parsed[r.index])
            XCTAssertEqual(report["defects"] as? [String], [], "mail \(r.index) parses without defects")
            let dir = scratch.file("mail-\(r.index)")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let names = try JSONSerialization.jsonObject(with: try Shell.check(
                "python3", [Paths.repo.appending(path: "Tests/Support/mail_check.py"), "--save-attachments",
                            sink.directory.appending(path: "\(r.index).eml"), dir]).stdout) as? [String] ?? []
            XCTAssertEqual(names.count, 1, "one attachment, the PDF: \(names)")
            let name = try XCTUnwrap(names.first)
            let id = try XCTUnwrap(name.firstMatch(of: /^message-(P-[A-Z0-9]{4}-[A-Z0-9]{2})\.pdf$/).map { String($0.1) }, name)
            let texts = (report["texts"] as? [String: String] ?? [:]).values.joined(separator: "\n")
            XCTAssertTrue(texts.contains(id), "the mail's text names the password id \(id)")
            XCTAssertEqual(r.recipients.count, 1)
            out.append((r.recipients[0], id, dir.appending(path: name), r.text + texts))
        }
        return out
    }

    /// Every byte of every file under `dir`, as Latin-1 text (so any byte sequence searches).
    private func everything(under dir: String) -> String {
        var all = ""
        let e = FileManager.default.enumerator(atPath: dir)
        while let rel = e?.nextObject() as? String {
            if let data = FileManager.default.contents(atPath: dir.appending(path: rel)) { all += String(decoding: data, as: Unicode.ASCII.self) + "\n" }
        }
        return all
    }

    // MARK: - Tests

    func testThePortalShowsEachPDFsPasswordUnderItsIdAndThatPasswordOpensTheMailedPDF() throws {
        try send(original(subject: "Figures \(tag)"), to: [Self.bob, Self.dora],
                 passwords: [Self.bob: Self.bobPassword, Self.dora: Self.doraPassword], name: "otp-1")
        try send(original(subject: "More figures \(tag)"), to: [Self.bob], passwords: [:], name: "otp-2")
        let run = try sweep()
        let mails = try mailedPDFs(3)
        XCTAssertEqual(mails.map(\.to).sorted(), [Self.bob, Self.bob, Self.dora])

        let b = try startPortal()
        try signIn(b, Self.bob, Self.bobPassword)
        var shown = try shownPasswords(b, expecting: 2)
        // Copying: either the clipboard took it, or the password is selected for a manual copy.
        try b.click(try XCTUnwrap(try b.findAll("#entries .entry").first))
        // Found again at each look: the view may be drawn anew while the message opens (a
        // held element reference then goes stale).
        _ = try b.waitFor("#otp-password", attempts: 300)
        XCTAssertTrue(try b.poll(attempts: 300) { !((try? b.text(try b.waitFor("#otp-password"))) ?? "").isEmpty })
        try b.click(try b.waitFor("#otp-copy"))
        XCTAssertTrue(try b.poll(attempts: 50) {
            let status = try b.text(try XCTUnwrap(try b.find("#status")))
            let selected = try b.execute("return String(getSelection())") as? String ?? ""
            let value = (try? b.text(try b.waitFor("#otp-password"))) ?? ""
            return status == "Password copied." || (!value.isEmpty && selected == value)
        }, "the copy button copies the password or selects it")
        try b.click(try XCTUnwrap(try b.find("#sign-out")))
        try signIn(b, Self.dora, Self.doraPassword)
        for (id, value) in try shownPasswords(b, expecting: 1) { shown[id] = value }
        XCTAssertEqual(shown.count, 3, "three PDFs, three password ids")
        XCTAssertEqual(Set(shown.values.map(\.password)).count, 3,
                       "two recipients of one message, and one recipient of two messages, never share a password")

        for mail in mails {
            let secret = try XCTUnwrap(shown[mail.id]?.password, "the portal shows a password for \(mail.id)")
            // qpdf: a clean check, R6 with AESv3, only opening protected.
            let check = try Shell.run("qpdf", ["--check", "--password=\(secret)", mail.pdf], timeout: 60)
            XCTAssertEqual(check.status, 0, check.out + check.err)
            let encryption = try Shell.run("qpdf", ["--show-encryption", "--password=\(secret)", mail.pdf], timeout: 60).out
            XCTAssertTrue(encryption.contains("R = 6"), encryption)
            XCTAssertTrue(encryption.contains("AESv3"), encryption)
            XCTAssertTrue(encryption.contains("extract for any purpose: allowed"), encryption)
            XCTAssertTrue(encryption.contains("print high resolution: allowed"), encryption)
            // pdftotext: the body, Cyrillic and Greek included, with the password only.
            let text = try Shell.run("pdftotext", ["-upw", secret, "-enc", "UTF-8", mail.pdf, "-"], timeout: 60)
            XCTAssertEqual(text.status, 0, text.err)
            for needle in ["MARKER-BODY-\(tag)", Self.cyrillic, Self.greek, shown[mail.id]!.subject] {
                XCTAssertTrue(text.out.contains(needle), "pdftotext shows \(needle): \(text.out)")
            }
            XCTAssertNotEqual(try Shell.run("pdftotext", [mail.pdf, "-"], timeout: 60).status, 0, "no password, no text")
            XCTAssertNotEqual(try Shell.run("pdftotext", ["-upw", secret + "x", mail.pdf, "-"], timeout: 60).status, 0,
                              "a wrong password opens nothing")
            // pdfdetach: every attachment under its original name, byte for byte.
            let list = try Shell.run("pdfdetach", ["-upw", secret, "-list", "-enc", "UTF-8", mail.pdf], timeout: 60)
            XCTAssertEqual(list.status, 0, list.err)
            let out = scratch.file("detach-\(mail.id)")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            XCTAssertEqual(try Shell.run("pdfdetach", ["-upw", secret, "-saveall", "-o", out, mail.pdf], timeout: 60).status, 0)
            for a in attachments {
                XCTAssertTrue(list.out.contains(a.name), "pdfdetach lists \(a.name): \(list.out)")
                XCTAssertEqual(FileManager.default.contents(atPath: out.appending(path: a.name)).map { [UInt8]($0) }, a.data,
                               "\(a.name) extracts byte-identical")
            }
        }

        // The passwords exist in clear only inside the sealed mailboxes: not in any mail, nor
        // the state store, the logs, www/ or the sweep's output.
        let mailText = try mails.map(\.text).joined() + XCTUnwrap(sink).messages().map(\.text).joined()
        let places = ["mail": mailText, "state": everything(under: inst.appending(path: "state")),
                      "logs": everything(under: inst.appending(path: "logs")), "www": everything(under: inst.appending(path: "www")),
                      "sweep output": run.out + run.err]
        for (id, value) in shown {
            for (place, text) in places {
                XCTAssertFalse(text.contains(value.password), "the password of \(id) is in clear in \(place)")
            }
        }
    }

    func testWithoutAPortalCopyThePortalShowsOnlyThePasswordAndItStillOpensThePDF() throws {
        let config = inst.appending(path: "spoolrun.toml")
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(of: "[portal]\n", with: "[portal]\notp_portal_copy = false\n")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        try send(original(subject: "Only PDF \(tag)"), to: [Self.bob], passwords: [Self.bob: Self.bobPassword], name: "otp-1")
        _ = try sweep()
        let mail = try XCTUnwrap(try mailedPDFs(1).first)

        let b = try startPortal()
        try signIn(b, Self.bob, Self.bobPassword)
        let shown = try shownPasswords(b, expecting: 1)
        try b.click(try XCTUnwrap(try b.findAll("#entries .entry").first))
        _ = try b.waitFor("#otp-password", attempts: 300)
        XCTAssertTrue(try b.poll(attempts: 100) { try b.text(try XCTUnwrap(try b.find("#message-notes"))).contains("only in the protected PDF") })
        XCTAssertNil(try b.find("#message-body"), "no portal copy of the body")
        XCTAssertFalse(try b.displayed(try XCTUnwrap(try b.find("#message-files"))), "no attachments or .eml to download")
        let secret = try XCTUnwrap(shown[mail.id]?.password)
        let check = try Shell.run("qpdf", ["--check", "--password=\(secret)", mail.pdf], timeout: 60)
        XCTAssertEqual(check.status, 0, check.out + check.err)
        XCTAssertTrue(try Shell.run("pdftotext", ["-upw", secret, mail.pdf, "-"], timeout: 60).out.contains("MARKER-BODY-\(tag)"))
    }
}
