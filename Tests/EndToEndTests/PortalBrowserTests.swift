// The portal app in a real browser (DESIGN §5): `spoolrun setup`, `wrap` and `run` put a
// sealed message under a copy of www/, nginx from the generated config serves it, and
// headless Chromium signs in, reads the message (body in a sandboxed srcdoc iframe with the
// inline image as a data: URL), downloads the attachment and the .eml byte for byte, refuses
// wrong credentials with one message, survives a damaged object, and fits a 360 px screen.
import Foundation
import TestSupport
import XCTest

final class PortalBrowserTests: XCTestCase {
    private var scratch: TemporaryDirectory!
    private var nginx: NginxServer?
    private var browser: WebDriver?
    private var extraBrowser: WebDriver?
    private var www = ""
    private var installation = ""
    private var downloads = ""
    private var base = ""

    static let bob = "bob@ext.test", bobPassword = "pw-bob-123-portal"
    static let carol = "carol@ext.test", carolPassword = "pw-carol-456"
    static let wrongLogin = "Wrong address or password."
    static let damaged = "This message could not be opened: it was damaged or altered."

    private let tag = String(UInt32.random(in: 100_000...999_999))
    private var subject: String { "Quarterly figures MARKER-\(tag)" }
    private var attachmentName: String { "figures-\(tag).dat" }
    /// Bytes that are not text, so that any re-encoding on the way would show.
    private lazy var attachment: [UInt8] = Array("MARKER-ATTACHMENT-\(tag)\n".utf8) + (0..<256).map { UInt8($0) }
    /// A valid 1x1 PNG.
    static let png: [UInt8] = Array(Data(base64Encoded:
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")!)
    private lazy var original: [UInt8] = Array("""
        From: Alice Example <alice@corp.example>\r
        To: Bob <bob@ext.test>, carol@ext.test\r
        Cc: Dave <dave@corp.example>\r
        Subject: \(subject)\r
        Date: Wed, 25 Nov 2026 10:00:00 +0000\r
        Message-ID: <\(tag)@corp.example>\r
        MIME-Version: 1.0\r
        Content-Type: multipart/mixed; boundary="outer"\r
        \r
        --outer\r
        Content-Type: multipart/related; boundary="rel"\r
        \r
        --rel\r
        Content-Type: text/html; charset=utf-8\r
        \r
        <p style="color: #333">MARKER-HTML-\(tag) Grüße, the figures are attached.</p>\r
        <p><img src="cid:logo@corp.example" alt="logo"> averyveryverylongwordwithoutanyspacesthatmustwrapsomewhereonaphonescreen</p>\r
        --rel\r
        Content-Type: image/png\r
        Content-ID: <logo@corp.example>\r
        Content-Disposition: inline; filename="logo.png"\r
        Content-Transfer-Encoding: base64\r
        \r
        \(Data(Self.png).base64EncodedString())\r
        --rel--\r
        --outer\r
        Content-Type: application/octet-stream; name="\(attachmentName)"\r
        Content-Disposition: attachment; filename="\(attachmentName)"\r
        Content-Transfer-Encoding: base64\r
        \r
        \(Data(attachment).base64EncodedString(options: .lineLength76Characters).replacingOccurrences(of: "\n", with: "\r\n"))\r
        --outer--\r

        """.utf8)

    // MARK: - Setup and teardown

    override func setUpWithError() throws {
        guard WebDriver.chromedriverPath != nil, WebDriver.chromiumPath != nil else {
            throw MissingTool("chromedriver or chromium")
        }
        guard NginxServer.nginxPath != nil else { throw MissingTool("nginx") }
        scratch = try TemporaryDirectory("spoolrun-portal")
        let d = scratch.file("inst")
        installation = d
        www = d.appending(path: "www")
        downloads = scratch.file("downloads")
        try FileManager.default.createDirectory(atPath: downloads, withIntermediateDirectories: true)

        let port = try LocalPorts.free()
        // setup installs the app from the source tree into D/www; the sweep renders there.
        try Shell.check(Paths.spoolrun, ["setup", "--dir", d, "--listen", "127.0.0.1:\(port)",
                                         "--recipient-address", "webmail@portal.test",
                                         "--sender-address", "webmail-sender@gateway.test"], timeout: 120)
        let tunnel = try Shell.check(Paths.spoolrun, ["wrap", "--config", (d + "-gateway").appending(path: "gateway.toml"),
                                                      "--to", Self.bob, "--to", Self.carol,
                                                      "--password", "\(Self.bob)=\(Self.bobPassword)",
                                                      "--password", "\(Self.carol)=\(Self.carolPassword)"],
                                     stdin: Data(original), timeout: 60).stdout
        let tmp = d.appending(path: "spool/tmp/portal-1")
        try tunnel.write(to: URL(fileURLWithPath: tmp))
        XCTAssertEqual(rename(tmp, d.appending(path: "spool/new/portal-1")), 0)
        let sweep = try Shell.run(Paths.spoolrun, ["run", "--config", d.appending(path: "spoolrun.toml")], timeout: 300)
        XCTAssertEqual(sweep.status, 0, sweep.err)
        let mailboxes = (try? FileManager.default.contentsOfDirectory(atPath: www.appending(path: "m"))) ?? []
        guard mailboxes.count == 2 else {
            throw ShellError(command: "spoolrun run (expected one mailbox per recipient, found \(mailboxes.count))", result: sweep)
        }

        // As root, nginx drops to nobody, as in SetupTests: the files must be readable by it.
        let server = try NginxServer(root: d, port: port)
        nginx = server
        base = server.base + "/"
        browser = try WebDriver(downloadDirectory: downloads)
    }

    override func tearDown() {
        browser?.quit()
        browser = nil
        extraBrowser?.quit()
        extraBrowser = nil
        nginx?.stop()
        nginx = nil
        scratch = nil
        super.tearDown()
    }

    // MARK: - Tests

    func testReaderSignsInReadsTheMessageAndDownloadsItsFilesByteForByte() throws {
        let b = try XCTUnwrap(browser)
        try b.navigate(base)
        try signIn(b, " Bob@Ext.test ", Self.bobPassword)  // the address is normalised
        let entry = try b.waitFor("#entries .entry", attempts: 300)
        let entryText = try b.text(entry)
        XCTAssertTrue(entryText.contains(subject), entryText)
        XCTAssertTrue(entryText.contains("Alice Example"), entryText)
        XCTAssertEqual(try b.execute("return document.getElementById('inbox-heading') === document.activeElement") as? Bool, true,
                       "focus moves to the inbox")

        try b.click(entry)
        let frame = try b.waitFor("#message-body", attempts: 150)
        XCTAssertTrue(try b.text(try b.waitFor("#message-subject")).contains(subject))
        let headers = try b.text(try XCTUnwrap(try b.find("#message-headers")))
        for part in ["Alice Example <alice@corp.example>", "Bob <bob@ext.test>", "carol@ext.test", "Dave <dave@corp.example>"] {
            XCTAssertTrue(headers.contains(part), "headers show \(part): \(headers)")
        }
        // The sandbox has neither scripts nor the page's origin, so the test cannot reach
        // inside: it checks what the page put into the frame.
        let sandbox = try b.execute("return arguments[0].getAttribute('sandbox')", [WebDriver.argument(frame)]) as? String
        XCTAssertNotNil(sandbox)
        XCTAssertFalse(sandbox?.contains("allow-scripts") ?? true, sandbox ?? "")
        XCTAssertFalse(sandbox?.contains("allow-same-origin") ?? true, sandbox ?? "")
        let srcdoc = try XCTUnwrap(try b.execute("return document.getElementById('message-body').srcdoc") as? String)
        XCTAssertTrue(srcdoc.contains("MARKER-HTML-\(tag) Grüße"), srcdoc)
        XCTAssertTrue(srcdoc.contains("http-equiv=\"Content-Security-Policy\""), srcdoc)
        XCTAssertTrue(srcdoc.contains("default-src 'none'; img-src data:; style-src 'unsafe-inline'"), srcdoc)
        XCTAssertTrue(srcdoc.contains("src=\"data:image/png;base64,\(Data(Self.png).base64EncodedString())\""),
                      "the inline image is the decrypted PNG as a data: URL: \(srcdoc)")
        XCTAssertFalse(srcdoc.contains("src=\"att-"), "no image points at a sealed file: \(srcdoc)")
        XCTAssertFalse(srcdoc.contains("cid:"), srcdoc)

        // One button per attachment that is not inline, and one for the original.
        let files = try b.findAll("#attachments button")
        let labels = try files.map { try b.text($0) }
        XCTAssertEqual(files.count, 2, "\(labels)")
        let attachmentButton = try XCTUnwrap(zip(files, labels).first { $0.1.contains(attachmentName) }?.0, "\(labels)")
        try b.click(attachmentButton)
        XCTAssertEqual(try download(attachmentName), attachment, "the attachment downloads byte for byte")
        let emlButton = try XCTUnwrap(try b.find("#attachments button[data-object='eml']"))
        try b.click(emlButton)
        XCTAssertEqual(try download("\(subject).eml"), original, "the .eml is the wrapped original, byte for byte")

        // Nothing the page did was blocked by its CSP, and nothing else went wrong.
        let problems = try b.consoleLog().filter { $0.level == "SEVERE" || $0.message.contains("Content Security Policy") }
        XCTAssertEqual(problems.map(\.message), [], "the browser console is clean")

        // Sign-out forgets the key and shows the form again.
        try b.click(try b.waitFor("#sign-out"))
        _ = try b.waitFor("#signin-form")
        XCTAssertEqual(try b.execute("return document.getElementById('inbox').hidden && document.getElementById('message').hidden"
                                     + " && document.getElementById('entries').children.length === 0") as? Bool, true)
        XCTAssertEqual(try b.execute("return localStorage.length + sessionStorage.length") as? Int, 0, "nothing is stored")
        XCTAssertEqual(try b.execute("return document.getElementById('password').value") as? String, "")
    }

    func testWrongPasswordUnknownAddressAndAnotherRecipientsPasswordAllShowTheSameError() throws {
        let b = try XCTUnwrap(browser)
        for (address, password) in [(Self.bob, "pw-bob-124"), ("nobody@ext.test", Self.bobPassword), (Self.bob, Self.carolPassword)] {
            try b.navigate(base)
            try signIn(b, address, password)
            var error = ""
            XCTAssertTrue(try b.poll(attempts: 300) {
                error = try b.text(try XCTUnwrap(try b.find("#error")))
                return !error.isEmpty
            }, "an error shows for \(address) / \(password)")
            XCTAssertEqual(error, Self.wrongLogin, "\(address) / \(password)")
            XCTAssertEqual(try b.execute("return document.getElementById('inbox').hidden") as? Bool, true)
            XCTAssertEqual(try b.findAll("#entries .entry").count, 0)
        }
        // Carol's own password still opens her own mailbox.
        try b.navigate(base)
        try signIn(b, Self.carol, Self.carolPassword)
        XCTAssertTrue(try b.text(try b.waitFor("#entries .entry", attempts: 300)).contains(subject))
        // The only console errors are the 404s of bundles that do not exist.
        let problems = try b.consoleLog().filter { ($0.level == "SEVERE" && !$0.message.contains("404")) || $0.message.contains("Content Security Policy") }
        XCTAssertEqual(problems.map(\.message), [])
    }

    func testADamagedMessageSaysSoWithoutBreakingThePage() throws {
        let b = try XCTUnwrap(browser)
        // Every sealed body under www/m gets one byte flipped: its tag no longer verifies.
        let root = www.appending(path: "m")
        for file in FileManager.default.enumerator(atPath: root)?.compactMap({ $0 as? String }) ?? [] where file.hasSuffix("/body") {
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root.appending(path: file))))
            bytes[bytes.count - 20] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: root.appending(path: file)))
        }
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try b.click(try b.waitFor("#entries .entry", attempts: 300))
        var error = ""
        XCTAssertTrue(try b.poll(attempts: 150) {
            error = try b.text(try XCTUnwrap(try b.find("#error")))
            return !error.isEmpty
        })
        XCTAssertEqual(error, Self.damaged)
        XCTAssertTrue(try b.findAll("#message-body").isEmpty, "no body is shown")
        try b.click(try b.waitFor("#back"))
        XCTAssertTrue(try b.text(try b.waitFor("#entries .entry", attempts: 300)).contains(subject), "the inbox still works")
    }

    func testInboxAndMessageFitA360PixelScreenWithoutHorizontalScrolling() throws {
        var b = try XCTUnwrap(browser)
        try b.setWindowSize(width: 360, height: 740)
        try b.navigate(base)
        var width = try b.execute("return window.innerWidth") as? Int ?? 0
        if width > 360 {
            // This Chrome cannot make its window that narrow: emulate a phone instead.
            let phone = try WebDriver(downloadDirectory: downloads, mobileWidth: 360)
            extraBrowser = phone
            b = phone
            try b.navigate(base)
            width = try b.execute("return window.innerWidth") as? Int ?? 0
        }
        XCTAssertLessThanOrEqual(width, 360)
        let fits = "return document.documentElement.scrollWidth <= window.innerWidth"
        _ = try b.waitFor("#signin-form")
        XCTAssertEqual(try b.execute(fits) as? Bool, true, "the sign-in form fits")
        try signIn(b, Self.bob, Self.bobPassword)
        _ = try b.waitFor("#entries .entry", attempts: 300)
        let inboxWidths = try scrollWidths(b)
        XCTAssertEqual(try b.execute(fits) as? Bool, true, "the inbox fits: \(inboxWidths)")
        try b.click(try b.waitFor("#entries .entry"))
        _ = try b.waitFor("#message-body")
        _ = try b.waitFor("#attachments button")
        let messageWidths = try scrollWidths(b)
        XCTAssertEqual(try b.execute(fits) as? Bool, true, "the message fits: \(messageWidths)")
        let frameWidth = try b.execute("return document.getElementById('message-body').getBoundingClientRect().width") as? Double ?? 0
        XCTAssertGreaterThan(frameWidth, 250, "the body frame uses the width of the screen")
        XCTAssertLessThanOrEqual(frameWidth, Double(width))
    }

    func testASealedFileSwappedWithAnotherMessagesFileIsRefusedAndThePortalSaysSo() throws {
        let b = try XCTUnwrap(browser)
        let second = "Second note \(tag)"
        try deliverToBob(subject: second, body: "Content-Type: text/plain; charset=utf-8\r\n\r\nThe second message.\r\n")
        // Bob's two messages: put the first one's sealed body in place of the second one's.
        let mailbox = try mailbox(holding: 2)
        let messages = try FileManager.default.contentsOfDirectory(atPath: mailbox).filter { !$0.hasSuffix(".json") }
        let bodies = messages.map { mailbox.appending(path: $0).appending(path: "body") }
        // Which directory holds which message is not known from outside (ids are opaque):
        // swap both ways, so that each message now holds the other's sealed body.
        let a = try Data(contentsOf: URL(fileURLWithPath: bodies[0])), c = try Data(contentsOf: URL(fileURLWithPath: bodies[1]))
        try c.write(to: URL(fileURLWithPath: bodies[0]))
        try a.write(to: URL(fileURLWithPath: bodies[1]))

        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        for wanted in [subject, second] {
            try openEntry(b, containing: wanted)
            XCTAssertEqual(try errorText(b), Self.damaged, "opening \(wanted) must refuse the other message's body")
            XCTAssertTrue(try b.findAll("#message-body").isEmpty, "no body is shown")
            try b.click(try b.waitFor("#back"))
        }
    }

    func testATruncatedSealedFileIsRefused() throws {
        let b = try XCTUnwrap(browser)
        // Every sealed body under www/m loses its second half.
        let root = www.appending(path: "m")
        for file in FileManager.default.enumerator(atPath: root)?.compactMap({ $0 as? String }) ?? [] where file.hasSuffix("/body") {
            let body = root.appending(path: file)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: body))
            try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: body))
        }
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try openEntry(b, containing: subject)
        XCTAssertEqual(try errorText(b), Self.damaged)
        XCTAssertTrue(try b.findAll("#message-body").isEmpty, "no body is shown")
    }

    func testAPartThatCouldNotBeDecodedIsNotedAndTheRestOfTheMessageIsShown() throws {
        let b = try XCTUnwrap(browser)
        let odd = "Odd charset \(tag)"
        try deliverToBob(subject: odd, body: """
            Content-Type: multipart/mixed; boundary="b"\r
            \r
            --b\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            Readable-\(tag) first part.\r
            --b\r
            Content-Type: text/plain; charset=x-no-such-charset\r
            Content-Disposition: inline\r
            \r
            Second part in a charset nobody knows.\r
            --b--\r

            """)
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try openEntry(b, containing: odd)
        let notes = try b.waitFor("#message-notes li", attempts: 300)
        let note = try b.text(notes)
        XCTAssertTrue(note.contains("x-no-such-charset"), "the note names what could not be decoded: \(note)")
        XCTAssertTrue(note.contains(".eml"), "the note points to the complete original: \(note)")
        XCTAssertTrue(try b.displayed(notes))
        // The readable part is shown in the body frame.
        let frame = try b.waitFor("#message-body")
        let srcdoc = try b.execute("return arguments[0].srcdoc", [WebDriver.argument(frame)]) as? String ?? ""
        XCTAssertTrue(srcdoc.contains("Readable-\(tag)"), "the readable part is shown")
        XCTAssertEqual(try b.text(try XCTUnwrap(try b.find("#error"))), "")
    }

    // MARK: - Helpers

    private func signIn(_ b: WebDriver, _ address: String, _ password: String) throws {
        try b.submitPortalSignIn(address, password)
    }

    /// Wraps one more message to Bob and sweeps it into his mailbox.
    private func deliverToBob(subject: String, body: String) throws {
        let original = Data(("From: Alice <alice@corp.example>\r\nTo: bob@ext.test\r\nSubject: \(subject)\r\n"
            + "Date: Wed, 25 Nov 2026 11:00:00 +0000\r\nMIME-Version: 1.0\r\n" + body).utf8)
        let tunnel = try Shell.check(Paths.spoolrun, ["wrap", "--config", (installation + "-gateway").appending(path: "gateway.toml"),
                                                      "--to", Self.bob], stdin: original, timeout: 60).stdout
        let name = "portal-\(UInt32.random(in: 1000...9999))"
        let tmp = installation.appending(path: "spool/tmp/\(name)")
        try tunnel.write(to: URL(fileURLWithPath: tmp))
        XCTAssertEqual(rename(tmp, installation.appending(path: "spool/new/\(name)")), 0)
        let sweep = try Shell.run(Paths.spoolrun, ["run", "--config", installation.appending(path: "spoolrun.toml")], timeout: 300)
        XCTAssertEqual(sweep.status, 0, sweep.err)
    }

    /// The one mailbox that holds `count` messages (after `deliverToBob`, Bob's is the only
    /// one with two): mailbox ids are opaque from outside.
    private func mailbox(holding count: Int) throws -> String {
        let root = www.appending(path: "m")
        let boxes = try FileManager.default.contentsOfDirectory(atPath: root).map { root.appending(path: $0) }
        let matching = try boxes.filter { box in
            try FileManager.default.contentsOfDirectory(atPath: box).filter { !$0.hasSuffix(".json") }.count == count
        }
        XCTAssertEqual(matching.count, 1, "one mailbox with \(count) messages")
        return try XCTUnwrap(matching.first)
    }

    private func openEntry(_ b: WebDriver, containing text: String) throws {
        _ = try b.waitFor("#entries .entry", attempts: 300)
        for entry in try b.findAll("#entries .entry") where try b.text(entry).contains(text) {
            return try b.click(entry)
        }
        XCTFail("no inbox entry shows \(text)")
    }

    private func errorText(_ b: WebDriver) throws -> String {
        var error = ""
        _ = try b.poll(attempts: 150) {
            error = try b.text(try XCTUnwrap(try b.find("#error")))
            return !error.isEmpty
        }
        return error
    }

    private func scrollWidths(_ b: WebDriver) throws -> String {
        String(describing: try b.execute("return [document.documentElement.scrollWidth, window.innerWidth]"))
    }

    /// Waits (bounded, 15 s) for a finished download called `name` and returns its bytes.
    private func download(_ name: String) throws -> [UInt8] {
        let path = downloads.appending(path: name)
        var bytes: [UInt8]?
        for _ in 0..<150 {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: downloads)) ?? []
            if names.contains(name), !names.contains(where: { $0.hasSuffix(".crdownload") }),
               let data = FileManager.default.contents(atPath: path) {
                bytes = [UInt8](data)
                break
            }
            usleep(100_000)
        }
        let listing = (try? FileManager.default.contentsOfDirectory(atPath: downloads)) ?? []
        return try XCTUnwrap(bytes, "\(name) was not downloaded within 15 s; the folder holds \(listing)")
    }
}
