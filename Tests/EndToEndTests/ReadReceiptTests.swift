// Read receipts end to end (DESIGN §6): `spoolrun setup` with nginx on a free loopback port,
// `wrap --read-receipt`, sweeps, and headless Chromium reading the message. A receipt is
// queued only once the browser has decrypted and shown the message (a link scanner that
// fetches every URL of the notification, with curl or with a browser, triggers none); one
// per message and recipient, however often it is opened and across both kinds of log
// rotation (rename + SIGUSR1, and copytruncate), also when the log was rotated twice between
// two sweeps; none when the envelope asked for none or the portal has receipts off; junk and
// forged lines in the receipt log are skipped. The MDN itself is read by Python's email
// package under policy.strict (Tests/Support/mail_check.py).
import Foundation
import TestSupport
import XCTest

final class ReadReceiptTests: XCTestCase {
    private var inst: TestInstallation!
    private var nginx: NginxServer?
    private var browser: WebDriver?
    private var port = 0
    /// The nginx base URL, which is also the configured portal.url.
    private var base = ""
    /// Where the sendmail stand-in keeps each message (NAME.eml) and its arguments (NAME.args).
    private var sentDir = ""

    static let alice = "alice@corp.example"
    static let bob = "bob@ext.test", bobPassword = "pw-bob-123-portal"
    static let carol = "carol@ext.test", carolPassword = "pw-carol-456"
    static let disposition = "manual-action/MDN-sent-manually; displayed"

    private let tag = String(UInt32.random(in: 100_000...999_999))

    /// One original wrapped and dropped into the spool.
    struct Sent {
        let label: String
        let subject: String
        /// With angle brackets, as in the original's header.
        let messageID: String
    }

    /// A read-receipt row of the outbox and what Python makes of its message.
    struct Receipt: CustomStringConvertible {
        let id: String
        let to: String
        let state: String
        let reading: [String: Any]
        var mdn: [String: String] { reading["mdn"] as? [String: String] ?? [:] }
        var messageID: String { mdn["Original-Message-ID"] ?? "" }
        var recipient: String { mdn["Final-Recipient"] ?? "" }
        var description: String { "\(id.prefix(12)) to \(to) (\(state)): \(recipient) read \(messageID)" }
    }

    // MARK: - Setup and teardown

    override func setUpWithError() throws {
        guard WebDriver.chromedriverPath != nil, WebDriver.chromiumPath != nil else {
            throw MissingTool("chromedriver or chromium")
        }
        guard NginxServer.nginxPath != nil else { throw MissingTool("nginx") }
        guard Tools.which("curl") != nil else { throw MissingTool("curl") }
        guard Tools.which("python3") != nil else { throw MissingTool("python3") }
        port = try LocalPorts.free()
        base = "http://127.0.0.1:\(port)/"
        inst = try TestInstallation(listen: "127.0.0.1:\(port)", extraArguments: ["--portal-url", base])

        // A harmless sendmail: keeps what it is given and succeeds, so each sweep marks mail sent.
        sentDir = inst.scratch.file("sent")
        try FileManager.default.createDirectory(atPath: sentDir, withIntermediateDirectories: true)
        let sendmail = inst.scratch.file("receipt-sendmail")
        try """
            #!/bin/sh
            f='\(sentDir)'/"$(date +%s%N)-$$"
            printf '%s\\n' "$@" > "$f.args"
            cat > "$f.eml"
            exit 0

            """.write(toFile: sendmail, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(sendmail, 0o755), 0)
        try inst.setConfig("sendmail", "\"\(sendmail)\"")
        let toml = try String(contentsOfFile: inst.config, encoding: .utf8)
        XCTAssertTrue(toml.contains("url = \"\(base)\""), "portal.url is the test's nginx: \(toml)")
        XCTAssertTrue(toml.contains("read_receipts = true"), "receipts are on by default")

        nginx = try NginxServer(root: inst.root, port: port)
        browser = try WebDriver(downloadDirectory: inst.scratch.file("downloads"))
    }

    override func tearDown() {
        browser?.quit()
        browser = nil
        nginx?.stop()
        nginx = nil
        inst = nil
        super.tearDown()
    }

    // MARK: - Tests

    func testFetchingEveryURLOfTheNotificationLikeALinkScannerSendsNoReceipt() throws {
        let b = try XCTUnwrap(browser)
        let mail = try deliver("scanned", to: [Self.bob, Self.carol], readReceipt: true, passwords: true)
        try sweep()

        // Every URL of every notification: the queued message and the copy sendmail got,
        // text and HTML parts (decoded), href/src attributes and bare URLs.
        let notifications = try outbox().filter { $0["kind"] as? String == "notification" }
        XCTAssertEqual(Set(notifications.compactMap { $0["to"] as? String }), [Self.bob, Self.carol], "\(notifications)")
        var links = Set<String>()
        var sources: [Data] = []
        for row in notifications {
            let id = try XCTUnwrap(row["id"] as? String)
            XCTAssertEqual(row["state"] as? String, "sent", "the sendmail stand-in took the notification")
            sources.append(try queuedMessage(id))
        }
        let copies = try savedMail().filter { String(decoding: $0.eml, as: UTF8.self).contains("Confidential message") }
        XCTAssertEqual(copies.count, 2, "sendmail got both notifications")
        sources += copies.map(\.eml)
        for raw in sources {
            let reading = try Self.pythonReading(raw)
            XCTAssertEqual(reading["defects"] as? [String], [], String(decoding: raw, as: UTF8.self))
            let texts = reading["texts"] as? [String: String] ?? [:]
            XCTAssertNotNil(texts["text/plain"], "the notification has a text part")
            XCTAssertNotNil(texts["text/html"], "the notification has an HTML part")
            for text in texts.values + [String(decoding: raw, as: UTF8.self)] {
                links.formUnion(Self.links(in: text, relativeTo: base))
            }
        }
        XCTAssertTrue(links.contains(base), "the notification links to the portal: \(links.sorted())")

        // A scanner fetches each one: GET and HEAD, with and without following redirects.
        let accessBefore = logLines("access.log").count
        var fetches = 0
        var pages: [String: String] = [:]
        for link in links.sorted() {
            let target = try XCTUnwrap(onTestServer(link), link)
            for variant in [["-X", "GET"], ["-X", "GET", "-L"], ["-I"], ["-I", "-L"]] {
                let code = try curl(variant + [target])
                XCTAssertNotEqual(code, "000", "\(variant) \(target) reached nginx")
                fetches += 1
            }
            let page = try Shell.run("curl", ["-s", "-L", "--max-redirs", "5", "--max-time", "10", "-A", Self.scannerAgent, target],
                                     timeout: 30)
            fetches += 1
            if page.status == 0, page.out.range(of: "<html", options: .caseInsensitive) != nil { pages[target] = page.out }
        }
        XCTAssertEqual(try curl(["-X", "GET", base]), "200", "the portal page is served")
        // ... and, one level deeper, everything those HTML pages reference on the same server.
        var deeper = Set<String>()
        for (page, body) in pages {
            deeper.formUnion(Self.links(in: body, relativeTo: page).compactMap { onTestServer($0) }.filter { $0.hasPrefix(base) })
        }
        deeper.subtract(links.compactMap { onTestServer($0) })
        XCTAssertLessThan(deeper.count, 100, "bounded crawl")
        for target in deeper.sorted() {
            for variant in [["-X", "GET"], ["-I"]] {
                XCTAssertNotEqual(try curl(variant + [target]), "000", target)
                fetches += 1
            }
        }
        // A scanner that runs the page's scripts (a browser that does not sign in).
        for link in links.sorted() {
            let target = try XCTUnwrap(onTestServer(link))
            try b.navigate(target)
            XCTAssertTrue(try b.poll(attempts: 100) { try b.execute("return document.readyState") as? String == "complete" })
            if target == base { _ = try b.waitFor("#signin-form") }
            _ = try b.poll(attempts: 20) { try !receiptRequests(b).isEmpty }
            XCTAssertEqual(try receiptRequests(b), [], "loading \(target) requests no receipt")
            fetches += 1
        }
        XCTAssertGreaterThanOrEqual(logLines("access.log").count - accessBefore, fetches,
                                    "every fetch reached nginx: \(logLines("access.log").suffix(fetches))")

        try sweep()
        XCTAssertEqual(receiptLogLines(), [], "nothing requested /r/")
        XCTAssertEqual(try receipts().map(\.description), [], "no read receipt is queued")

        // The same portal does send one when the recipient reads the message: the scan above
        // would have shown.
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, mail, receipt: true)
        try sweep()
        try assertReceipts([(mail, Self.bob)])
    }

    func testOpeningTheMessageInChromiumQueuesExactlyOneReceiptEvenWhenOpenedThreeTimesAndAfterLogRotation() throws {
        let b = try XCTUnwrap(browser)
        let one = try deliver("one", to: [Self.bob, Self.carol], readReceipt: true, passwords: true)
        try sweep()
        // Four more for Bob, each asking for a receipt: read before and after each rotation.
        let two = try deliver("two", to: [Self.bob], readReceipt: true, passwords: false)
        let three = try deliver("three", to: [Self.bob], readReceipt: true, passwords: false)
        let four = try deliver("four", to: [Self.bob], readReceipt: true, passwords: false)
        let five = try deliver("five", to: [Self.bob], readReceipt: true, passwords: false)
        try sweep()
        XCTAssertEqual(try receipts().map(\.description), [], "nothing read yet")

        // Bob opens the first message: one receipt, to the envelope's sender.
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        let requested = try open(b, one, receipt: true)
        try sweep()
        let first = try assertReceipts([(one, Self.bob)])
        XCTAssertEqual(first.first?.to, Self.alice, "the receipt goes to the envelope's sender")
        XCTAssertEqual(first.first?.state, "sent", "the sweep handed it to sendmail")
        if let receipt = first.first { try checkMDN(receipt, answering: one, recipient: Self.bob) }
        let handed = try savedMail().filter { $0.args.last == Self.alice }
        XCTAssertEqual(handed.count, 1, "sendmail got the receipt, for \(Self.alice)")
        XCTAssertTrue(String(decoding: handed.first?.eml ?? Data(), as: UTF8.self).contains("disposition-notification"))

        // The token is in the sealed message only: not in www/ in the clear, nor in the
        // state store, nor in any mail.
        let token = try XCTUnwrap(requested.first.flatMap { $0.components(separatedBy: "/r/").last }, "\(requested)")
        XCTAssertNotNil(token.range(of: "^[A-Za-z0-9_-]{16,64}$", options: .regularExpression), token)
        XCTAssertTrue(receiptLogLines().contains { $0.hasSuffix(" /r/\(token)") }, "nginx logged the browser's request")
        for dir in ["www", "state"] {
            XCTAssertEqual(filesContaining(token, under: inst.root.appending(path: dir)), [], "the token is nowhere in \(dir)/")
        }
        XCTAssertEqual(filesContaining(token, under: sentDir), [], "the token is in no mail")

        // Opened twice more (back to the inbox, then a new sign-in): still one.
        try b.click(try b.waitFor("#back"))
        try open(b, one, receipt: true)
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, one, receipt: true)
        XCTAssertGreaterThanOrEqual(receiptLogLines().filter { $0.hasSuffix(" /r/\(token)") }.count, 3, "three reads were logged")
        try sweep()
        try assertReceipts([(one, Self.bob)])

        // Carol is another recipient of the same message: her reading is a receipt of its own
        // (one, though she opens it twice before the sweep).
        try b.navigate(base)
        try signIn(b, Self.carol, Self.carolPassword)
        try open(b, one, receipt: true)
        try b.click(try b.waitFor("#back"))
        try open(b, one, receipt: true)
        try sweep()
        try assertReceipts([(one, Self.bob), (one, Self.carol)])

        // Rotation by rename (logrotate's default), nginx told to reopen with SIGUSR1. Reads
        // before it (in the old file, not yet swept) and after it (in the new file) count.
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, one, receipt: true)
        try b.click(try b.waitFor("#back"))
        let readTwo = try receiptPath(try open(b, two, receipt: true))
        let log = receiptLog
        XCTAssertEqual(rename(log, log + ".1"), 0)
        try reopenLogs()
        try b.click(try b.waitFor("#back"))
        try open(b, one, receipt: true)
        try b.click(try b.waitFor("#back"))
        let readThree = try receiptPath(try open(b, three, receipt: true))
        // So the reads are where this phase means them to be: two only in the renamed file
        // (written before the rotation, not yet swept), three only in the new one.
        XCTAssertEqual(receiptLogLines().count, 2, "the new log holds the two reads since the rotation")
        XCTAssertTrue(logLines("receipts.log.1").contains { $0.hasSuffix(" " + readTwo) }, "two was read before the rotation")
        XCTAssertFalse(receiptLogLines().contains { $0.hasSuffix(" " + readTwo) })
        XCTAssertTrue(receiptLogLines().contains { $0.hasSuffix(" " + readThree) }, "three was read after it")
        try sweep()
        try assertReceipts([(one, Self.bob), (one, Self.carol), (two, Self.bob), (three, Self.bob)])

        // Rotation by copytruncate: .1 moves to .2, the log is copied to .1 and truncated in
        // place (nginx goes on writing to the same file). A read before (only in the copy)
        // and reads after count.
        try b.click(try b.waitFor("#back"))
        let readFour = try receiptPath(try open(b, four, receipt: true))
        XCTAssertEqual(rename(log + ".1", log + ".2"), 0)
        try FileManager.default.copyItem(atPath: log, toPath: log + ".1")
        XCTAssertEqual(truncate(log, 0), 0)
        try b.click(try b.waitFor("#back"))
        try open(b, one, receipt: true)
        try b.click(try b.waitFor("#back"))
        let readFive = try receiptPath(try open(b, five, receipt: true))
        XCTAssertEqual(receiptLogLines().count, 2, "the truncated log holds the two reads since")
        XCTAssertTrue(logLines("receipts.log.1").contains { $0.hasSuffix(" " + readFour) }, "four was read before the rotation")
        XCTAssertFalse(receiptLogLines().contains { $0.hasSuffix(" " + readFour) })
        XCTAssertTrue(receiptLogLines().contains { $0.hasSuffix(" " + readFive) }, "five was read after it")
        try sweep()
        let all = try assertReceipts([(one, Self.bob), (one, Self.carol), (two, Self.bob), (three, Self.bob),
                                      (four, Self.bob), (five, Self.bob)])
        for receipt in all {
            XCTAssertEqual(receipt.to, Self.alice, "\(receipt)")
            let recipient = receipt.recipient.replacingOccurrences(of: "rfc822;", with: "")
            let answered = [one, two, three, four, five].first { $0.messageID == receipt.messageID }
            if let answered { try checkMDN(receipt, answering: answered, recipient: recipient) }
        }

        // And one more sweep with nothing new changes nothing.
        try sweep()
        XCTAssertEqual(try receipts().count, 6)
    }

    /// logrotate ran twice while no sweep ran (sweeps stopped for a day, say): the reads in
    /// the file in between (now receipts.log.1) are answered too, by rename and by copytruncate.
    func testReadsInALogRotatedTwiceByRenameBetweenSweepsAreAllAnswered() throws {
        try rotateTwiceBetweenSweeps { log, first in
            if !first { XCTAssertEqual(rename(log + ".1", log + ".2"), 0) }
            XCTAssertEqual(rename(log, log + ".1"), 0)
            try reopenLogs()
        }
    }

    func testReadsInALogRotatedTwiceByCopytruncateBetweenSweepsAreAllAnswered() throws {
        try rotateTwiceBetweenSweeps { log, first in
            if !first { XCTAssertEqual(rename(log + ".1", log + ".2"), 0) }
            try FileManager.default.copyItem(atPath: log, toPath: log + ".1")
            XCTAssertEqual(truncate(log, 0), 0)
        }
    }

    /// One read swept; `rotate`; a read; `rotate` again (.1 moves to .2); a read; one sweep:
    /// every read has its receipt. `rotate` gets the log's path and whether it is the first.
    private func rotateTwiceBetweenSweeps(_ rotate: (String, Bool) throws -> Void,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        let b = try XCTUnwrap(browser)
        let one = try deliver("one", to: [Self.bob], readReceipt: true, passwords: true)
        let two = try deliver("two", to: [Self.bob], readReceipt: true, passwords: false)
        let three = try deliver("three", to: [Self.bob], readReceipt: true, passwords: false)
        try sweep()
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, one, receipt: true)
        try sweep()
        try assertReceipts([(one, Self.bob)], file: file, line: line)

        let log = receiptLog
        try rotate(log, true)
        try b.click(try b.waitFor("#back"))
        let readTwo = try receiptPath(try open(b, two, receipt: true))
        try rotate(log, false)
        try b.click(try b.waitFor("#back"))
        let readThree = try receiptPath(try open(b, three, receipt: true))
        // Where the reads are: two only in receipts.log.1, three only in receipts.log.
        XCTAssertEqual(logLines("receipts.log.1").filter { $0.contains(" /r/") }.map { String($0.suffix(readTwo.count)) }, [readTwo],
                       file: file, line: line)
        XCTAssertEqual(receiptLogLines().map { String($0.suffix(readThree.count)) }, [readThree], file: file, line: line)
        try sweep()
        try assertReceipts([(one, Self.bob), (two, Self.bob), (three, Self.bob)], file: file, line: line)
    }

    func testTheReadReceiptArrivesOverRealSMTPAndItsReportPartCarriesEveryField() throws {
        let b = try XCTUnwrap(browser)
        let sink = try SMTPSink()
        defer { sink.stop() }
        let mail = try deliver("smtp", to: [Self.bob], readReceipt: true, passwords: true)
        try sweep()  // the notification goes to the stand-in
        try inst.setConfig("sendmail", "\"\(sink.sendmailCommand)\"")
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, mail, receipt: true)
        try sweep()
        let receipt = try XCTUnwrap(try assertReceipts([(mail, Self.bob)]).first)
        XCTAssertEqual(receipt.state, "sent")
        var arrived: [SMTPSink.Received] = []
        for _ in 0..<100 where arrived.isEmpty {
            arrived = try sink.messages()
            if arrived.isEmpty { usleep(100_000) }
        }
        XCTAssertEqual(arrived.count, 1, "exactly the receipt arrives over SMTP")
        let got = try XCTUnwrap(arrived.first)
        XCTAssertEqual(got.recipients, [Self.alice])
        // What arrived (not only what was queued) is the RFC 3798 report, without a defect.
        try checkMDN(Receipt(id: receipt.id, to: Self.alice, state: "sent", reading: try Self.pythonReading(got.raw)),
                     answering: mail, recipient: Self.bob)
    }

    /// The message view's words for a message that asks for a receipt (www/assets/strings.js):
    /// they name the envelope's sender, who gets the receipt.
    static let receiptNotice = "The sender, \(alice), asked for a read receipt: opening this message tells them that you read it."

    func testTheMessageViewSaysAReceiptWasAskedForOnAPhoneBeforeTheReceiptIsSent() throws {
        // On a phone (emulated, 360 px): the notice must fit there too.
        browser?.quit()
        browser = try WebDriver(downloadDirectory: inst.scratch.file("downloads"), mobileWidth: 360)
        let b = try XCTUnwrap(browser)
        let asked = try deliver("notice", to: [Self.bob], readReceipt: true, passwords: true)
        try sweep()
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try watchReceiptNotice(b)
        let logged = receiptLogLines().count
        let requested = try open(b, asked, receipt: true)
        XCTAssertEqual(requested.count, 1)

        // When the notice first showed (a MutationObserver's note), it was on screen with its
        // words; the /r/ request started after that, and nginx logged it after receiving it.
        let shown = try XCTUnwrap(try b.execute("return window.receiptNoticeShown") as? [String: Any], "the notice was shown")
        XCTAssertEqual(shown["text"] as? String, Self.receiptNotice)
        XCTAssertEqual(shown["visible"] as? Bool, true, "the notice was visible when it appeared: \(shown)")
        let shownAt = try XCTUnwrap((shown["at"] as? NSNumber)?.doubleValue)
        let requestedAt = try XCTUnwrap((try b.execute("""
            return performance.getEntriesByType('resource').filter(function (e) { return e.name.indexOf('/r/') >= 0; })
                .map(function (e) { return e.startTime; })[0]
            """) as? NSNumber)?.doubleValue, "Resource Timing has the /r/ request")
        XCTAssertLessThan(shownAt, requestedAt, "the notice was on screen before the receipt request started")
        XCTAssertEqual(receiptLogLines().count, logged + 1, "nginx logged the receipt request once")

        let notice = try b.waitFor("#message-receipt")
        XCTAssertTrue(try b.displayed(notice), "the notice stays in the message view")
        XCTAssertEqual(try b.text(notice), Self.receiptNotice)
        XCTAssertEqual(try b.execute("return document.getElementById('message-receipt').getAttribute('role')") as? String, "status",
                       "screen readers announce it")
        let fits = try b.execute("""
            var r = document.getElementById('message-receipt').getBoundingClientRect();
            return [r.left >= 0, r.right <= window.innerWidth, document.documentElement.scrollWidth <= window.innerWidth, window.innerWidth];
            """) as? [Any] ?? []
        XCTAssertEqual(fits.prefix(3).map { $0 as? Bool }, [true, true, true], "the notice fits the phone's width: \(fits)")
        XCTAssertLessThanOrEqual((fits.last as? NSNumber)?.intValue ?? .max, 360)
    }

    func testAMessageWithoutAReceiptShowsNoReceiptNotice() throws {
        let b = try XCTUnwrap(browser)
        let asked = try deliver("with-notice", to: [Self.bob], readReceipt: true, passwords: true)
        let quiet = try deliver("without-notice", to: [Self.bob], readReceipt: false, passwords: false)
        try sweep()
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        // After one that asked: the notice of the earlier message does not stay behind.
        try open(b, asked, receipt: true)
        XCTAssertTrue(try b.displayed(try b.waitFor("#message-receipt")))
        try b.click(try b.waitFor("#back"))
        try watchReceiptNotice(b)
        try open(b, quiet, receipt: false)
        let notice = try XCTUnwrap(try b.find("#message-receipt"), "the message view has the notice element")
        XCTAssertFalse(try b.displayed(notice), "no notice for a message that asked for no receipt")
        XCTAssertEqual(try b.execute("return document.getElementById('message-receipt').textContent") as? String, "")
        XCTAssertNil(try b.execute("return window.receiptNoticeShown"), "it never showed while the message opened")
    }

    func testNoReceiptWhenTheEnvelopeAskedForNone() throws {
        let b = try XCTUnwrap(browser)
        let quiet = try deliver("quiet", to: [Self.bob], readReceipt: false, passwords: true)
        try sweep()
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, quiet, receipt: false)
        try b.click(try b.waitFor("#back"))
        try open(b, quiet, receipt: false)
        XCTAssertEqual(receiptLogLines(), [], "the browser requested no /r/")
        XCTAssertEqual(logLines("access.log").filter { $0.contains("/r/") }, [], "no /r/ request reached nginx")
        try sweep()
        XCTAssertEqual(try receipts().map(\.description), [], "no read receipt is queued")

        // The same reader on the same portal, a message that asked for one: exactly that one.
        let asked = try deliver("asked", to: [Self.bob], readReceipt: true, passwords: false)
        try sweep()
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, quiet, receipt: false)
        try b.click(try b.waitFor("#back"))
        try open(b, asked, receipt: true)
        try sweep()
        try assertReceipts([(asked, Self.bob)])
    }

    func testNoReceiptWhenThePortalHasReceiptsOff() throws {
        let b = try XCTUnwrap(browser)
        // Off when the message is rendered: the envelope asks, but the message carries no token.
        try inst.setConfig("read_receipts", "false")
        let off = try deliver("rendered-off", to: [Self.bob], readReceipt: true, passwords: true)
        try sweep()
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, off, receipt: false)
        XCTAssertEqual(receiptLogLines(), [], "the browser requested no /r/")
        XCTAssertEqual(logLines("access.log").filter { $0.contains("/r/") }, [], "no /r/ request reached nginx")
        try sweep()
        XCTAssertEqual(try receipts().map(\.description), [], "no read receipt is queued")
        // Switching receipts on later makes none for a message rendered without.
        try inst.setConfig("read_receipts", "true")
        try sweep()
        XCTAssertEqual(try receipts().map(\.description), [])

        // Off when the log is read: a message rendered with receipts on is opened (the browser
        // does request /r/), but the sweep that reads it has receipts off: nothing is queued,
        // and switching them on again does not queue that read afterwards.
        let on = try deliver("rendered-on", to: [Self.bob], readReceipt: true, passwords: false)
        try sweep()
        try inst.setConfig("read_receipts", "false")
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, on, receipt: true)
        try sweep()
        XCTAssertEqual(try receipts().map(\.description), [], "no read receipt is queued while receipts are off")
        try inst.setConfig("read_receipts", "true")
        try sweep()
        XCTAssertEqual(try receipts().map(\.description), [], "a read while receipts were off stays without a receipt")

        // With receipts on throughout, the same reader's opening is answered.
        let control = try deliver("control", to: [Self.bob], readReceipt: true, passwords: false)
        try sweep()
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, off, receipt: false)
        try b.click(try b.waitFor("#back"))
        try open(b, control, receipt: true)
        try sweep()
        try assertReceipts([(control, Self.bob)])
    }

    func testUnknownRepeatedAndMalformedReceiptLogLinesAreIgnored() throws {
        let b = try XCTUnwrap(browser)
        let mail = try deliver("real", to: [Self.bob], readReceipt: true, passwords: true)
        try sweep()
        XCTAssertTrue(FileManager.default.fileExists(atPath: receiptLog), "nginx opened its receipt log")

        // A token of the right form that no delivery carries, and every kind of junk.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let forged = String((0..<22).map { _ in alphabet.randomElement()! })
        let now = Self.isoTime(Date())
        var junk: [Data] = [
            "", " ", "garbage", "\(now)", "/r/\(forged)", "\(now) /r/", "\(now) /r/short",
            "\(now) /r/\(String(repeating: "A", count: 65))", "\(now) /r/abc%def%ghi%jkl%mnop", "\(now) /r/\(forged)/../x",
            "\(now) /r/\(forged) extra", "\(now) /x/\(forged)", "not-a-time /r/\(forged)", "2026-13-45T99:99:99+00:00 /r/\(forged)",
            "\(now)  /r/\(forged)\r", "\(now)\t/r/\(forged)", "\(now) /r/../../etc/passwd",
            "\(now) /r/\(forged)", "\(now) /r/\(forged)", "\(Self.isoTime(Date(timeIntervalSince1970: 0))) /r/\(forged)",
            String(repeating: "X", count: 100_000),
        ].map { Data($0.utf8) }
        junk.append(Data([0x00, 0xFF, 0xFE, 0x20, 0x2F, 0x72, 0x2F, 0xC3, 0x28, 0x00]))
        try append(junk)
        let linesBefore = receiptLogLines().count
        try sweep()
        XCTAssertEqual(try receipts().map(\.description), [], "junk and a forged token queue nothing")
        try sweep()
        XCTAssertEqual(try receipts().map(\.description), [], "nor on the next sweep")

        // The reader moved past the junk: a real read afterwards is answered, once.
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, mail, receipt: true)
        XCTAssertGreaterThan(receiptLogLines().count, linesBefore)
        try sweep()
        try assertReceipts([(mail, Self.bob)])

        // The real line repeated (as is, and at other times), among more junk: still one.
        let real = try XCTUnwrap(receiptLogLines().last)
        let realToken = try XCTUnwrap(real.components(separatedBy: " ").last)
        XCTAssertTrue(realToken.hasPrefix("/r/"), real)
        try append([real, real, "\(Self.isoTime(Date().addingTimeInterval(3600))) \(realToken)", "junk \(realToken)",
                    "\(now) /r/\(forged)", real].map { Data($0.utf8) })
        try sweep()
        let receipts = try assertReceipts([(mail, Self.bob)])
        if let receipt = receipts.first { try checkMDN(receipt, answering: mail, recipient: Self.bob) }

        // And a second message read after all this gets its own one.
        let later = try deliver("later", to: [Self.bob], readReceipt: true, passwords: false)
        try sweep()
        try append([Data("\(now) /r/\(forged)".utf8)])
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, later, receipt: true)
        try sweep()
        try assertReceipts([(mail, Self.bob), (later, Self.bob)])
    }

    func testAFloodOf100000JunkReadsIsReadInBoundedSlicesAndEveryRealReceiptIsQueuedOnce() throws {
        let b = try XCTUnwrap(browser)
        let first = try deliver("flood-1", to: [Self.bob], readReceipt: true, passwords: true)
        let second = try deliver("flood-2", to: [Self.bob], readReceipt: true, passwords: false)
        let third = try deliver("flood-3", to: [Self.bob], readReceipt: true, passwords: false)
        try sweep()
        XCTAssertTrue(FileManager.default.fileExists(atPath: receiptLog), "nginx opened its receipt log")

        // 100,000 token-shaped reads that no delivery carries (what a flood that got past the
        // rate limit, from many addresses, would leave), with real reads among them.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let now = Self.isoTime(Date())
        func junk(_ count: Int) throws {
            var text = ""
            text.reserveCapacity(count * 52)
            for _ in 0..<count { text += "\(now) /r/\(String((0..<22).map { _ in alphabet.randomElement()! }))\n" }
            let h = try XCTUnwrap(FileHandle(forWritingAtPath: receiptLog))
            defer { try? h.close() }
            try h.seekToEnd()
            try h.write(contentsOf: Data(text.utf8))
        }
        try junk(40_000)
        try b.navigate(base)
        try signIn(b, Self.bob, Self.bobPassword)
        try open(b, first, receipt: true)
        try junk(40_000)
        try b.click(try b.waitFor("#back"))
        try open(b, second, receipt: true)
        try junk(20_000)
        let logBytes = (try FileManager.default.attributesOfItem(atPath: receiptLog)[.size] as? Int) ?? 0
        XCTAssertGreaterThan(logBytes, 5_000_000, "the backlog is several slices long")

        // One sweep reads it all, slice by slice (1 MiB each), and answers both real reads.
        let r = try inst.sweep(timeout: 300)
        XCTAssertEqual(r.status, 0, r.err)
        let summary = try XCTUnwrap(r.err.split(separator: "\n").first { $0.contains("receipt log read") }, r.err)
        let slices = Int(summary.firstMatch(of: /slices=(\d+)/)?.1 ?? "") ?? 0
        let lines = Int(summary.firstMatch(of: /lines=(\d+)/)?.1 ?? "") ?? 0
        XCTAssertGreaterThanOrEqual(slices, logBytes / (1 << 20), "read in bounded slices: \(summary)")
        XCTAssertGreaterThanOrEqual(lines, 100_002, "every line read in this one sweep: \(summary)")
        try assertReceipts([(first, Self.bob), (second, Self.bob)])

        // Nothing twice; a read after the flood is answered too, once.
        try sweep()
        try assertReceipts([(first, Self.bob), (second, Self.bob)])
        try b.click(try b.waitFor("#back"))
        try open(b, third, receipt: true)
        try sweep()
        try assertReceipts([(first, Self.bob), (second, Self.bob), (third, Self.bob)])
    }

    // MARK: - Mail in and out

    /// Wraps an original from Alice to `to` and drops it into spool/new (the next sweep takes it).
    private func deliver(_ label: String, to: [String], readReceipt: Bool, passwords: Bool) throws -> Sent {
        let sent = Sent(label: label, subject: "Receipt \(label) \(tag)", messageID: "<\(label).\(tag)@corp.example>")
        let original = Data("""
            From: Alice Example <\(Self.alice)>\r
            To: \(to.joined(separator: ", "))\r
            Subject: \(sent.subject)\r
            Date: Wed, 25 Nov 2026 10:00:00 +0000\r
            Message-ID: \(sent.messageID)\r
            MIME-Version: 1.0\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            BODY-\(label)-\(tag): the figures.\r

            """.utf8)
        var arguments = to.flatMap { ["--to", $0] }
        if passwords {
            let known = [Self.bob: Self.bobPassword, Self.carol: Self.carolPassword]
            arguments += to.flatMap { ["--password", "\($0)=\(known[$0] ?? "pw-other-789")"] }
        }
        if readReceipt { arguments.append("--read-receipt") }
        try inst.deliver(try inst.wrap(original, arguments: arguments), name: "receipt-\(label)-\(tag)")
        return sent
    }

    /// One sweep, which must succeed; the sweep runs as root, nginx as nobody.
    private func sweep(file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try inst.sweep(timeout: 300)
        XCTAssertEqual(r.status, 0, r.err, file: file, line: line)
        XCTAssertEqual(inst.names(in: "new"), [], "the sweep took every tunnel file", file: file, line: line)
    }

    private func outbox() throws -> [[String: Any]] {
        let r = try Shell.check(Paths.spoolrun, ["outbox", "list", "--json", "--config", inst.config], timeout: 60)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]], r.out)
    }

    /// The whole queued message (`outbox show ID --message` prints the entry, a blank line, the message).
    private func queuedMessage(_ id: String) throws -> Data {
        let out = try Shell.check(Paths.spoolrun, ["outbox", "show", id, "--message", "--config", inst.config], timeout: 60).stdout
        let gap = try XCTUnwrap(out.range(of: Data("\n\n".utf8)), String(decoding: out, as: UTF8.self))
        return out.subdata(in: gap.upperBound..<out.endIndex)
    }

    /// What the sendmail stand-in was given, oldest first.
    private func savedMail() throws -> [(args: [String], eml: Data)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: sentDir).filter { $0.hasSuffix(".eml") }.sorted()
        return try names.map { name in
            let stem = sentDir.appending(path: String(name.dropLast(4)))
            let args = try String(contentsOfFile: stem + ".args", encoding: .utf8).split(separator: "\n").map(String.init)
            return (args, try Data(contentsOf: URL(fileURLWithPath: stem + ".eml")))
        }
    }

    /// Python's reading of a message: defects, headers, tree, texts, MDN fields.
    static func pythonReading(_ bytes: Data) throws -> [String: Any] {
        let script = Paths.repo.appending(path: "Tests/Support/mail_check.py")
        let r = try Shell.check("python3", [script], stdin: bytes, timeout: 60)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.out)
    }

    /// The read-receipt rows of the outbox, each with Python's reading of its message.
    private func receipts() throws -> [Receipt] {
        try outbox().filter { $0["kind"] as? String == "read-receipt" }.map { row in
            let id = try XCTUnwrap(row["id"] as? String)
            return Receipt(id: id, to: row["to"] as? String ?? "", state: row["state"] as? String ?? "",
                           reading: try Self.pythonReading(try queuedMessage(id)))
        }
    }

    /// Exactly one receipt per (message, recipient) expected, and nothing else.
    @discardableResult
    private func assertReceipts(_ expected: [(Sent, String)], file: StaticString = #filePath, line: UInt = #line) throws -> [Receipt] {
        let found = try receipts()
        XCTAssertEqual(found.map { "\($0.recipient) read \($0.messageID)" }.sorted(),
                       expected.map { "rfc822;\($0.1) read \($0.0.messageID)" }.sorted(),
                       "one receipt per message and recipient: \(found)", file: file, line: line)
        for receipt in found {
            XCTAssertEqual(receipt.to, Self.alice, "\(receipt)", file: file, line: line)
        }
        return found
    }

    /// The MDN, read by Python under policy.strict (RFC 3798).
    private func checkMDN(_ receipt: Receipt, answering original: Sent, recipient: String,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        let r = receipt.reading
        XCTAssertEqual(r["defects"] as? [String], [], "\(receipt)", file: file, line: line)
        let tree = r["tree"] as? [String] ?? []
        XCTAssertEqual(tree.first, "multipart/report", "\(tree)", file: file, line: line)
        XCTAssertTrue(tree.contains("message/disposition-notification"), "\(tree)", file: file, line: line)
        XCTAssertEqual((r["params"] as? [String: String])?["report-type"], "disposition-notification", file: file, line: line)
        XCTAssertEqual((r["recipients"] as? [String: [String]])?["to"], [Self.alice], file: file, line: line)
        let mdn = receipt.mdn
        let ua = mdn["Reporting-UA"] ?? ""
        XCTAssertTrue(ua.contains("spoolrun"), "Reporting-UA: \(ua)", file: file, line: line)
        XCTAssertEqual(mdn["Original-Recipient"], "rfc822;\(recipient)", "\(mdn)", file: file, line: line)
        XCTAssertEqual(mdn["Final-Recipient"], "rfc822;\(recipient)", "\(mdn)", file: file, line: line)
        XCTAssertEqual(mdn["Original-Message-ID"], original.messageID, "\(mdn)", file: file, line: line)
        XCTAssertEqual(mdn["Disposition"], Self.disposition, "\(mdn)", file: file, line: line)
        let headers = (r["headers"] as? [[String]] ?? []).map { ($0[0].lowercased(), $0[1]) }
        XCTAssertEqual(headers.first { $0.0 == "in-reply-to" }?.1, original.messageID, "\(headers)", file: file, line: line)
    }

    // MARK: - Browser

    private func signIn(_ b: WebDriver, _ address: String, _ password: String) throws {
        try b.submitPortalSignIn(address, password)
        _ = try b.waitFor("#entries .entry", attempts: 300)
        try b.execute("performance.setResourceTimingBufferSize(10000)")
    }

    /// Notes in window.receiptNoticeShown when #message-receipt first shows (time, words, and
    /// whether it is on screen), so that a test can compare that with the /r/ request's start.
    private func watchReceiptNotice(_ b: WebDriver) throws {
        try b.execute("""
            window.receiptNoticeShown = null;
            var el = document.getElementById('message-receipt');
            new MutationObserver(function () {
                if (window.receiptNoticeShown || el.hidden) return;
                var visible = el.getClientRects().length > 0 && getComputedStyle(el).visibility === 'visible';
                window.receiptNoticeShown = { at: performance.now(), text: el.textContent, visible: visible };
            }).observe(el, { attributes: true, childList: true, characterData: true, subtree: true });
            """)
    }

    /// The path (/r/TOKEN) of the one receipt request an opening made, as nginx logs it.
    private func receiptPath(_ requested: [String]) throws -> String {
        let path = try XCTUnwrap(requested.first.flatMap { URL(string: $0)?.path }, "\(requested)")
        XCTAssertTrue(path.hasPrefix("/r/"), path)
        return path
    }

    /// The /r/ URLs the page has requested (Resource Timing records every fetch).
    private func receiptRequests(_ b: WebDriver) throws -> [String] {
        let names = try b.execute("return performance.getEntriesByType('resource').map(function (e) { return e.name; })") as? [String] ?? []
        return names.filter { $0.contains("/r/") }
    }

    /// Opens the inbox entry of `mail` and waits until its body shows. With `receipt`, waits
    /// (bounded, 10 s) for the browser's /r/ request and nginx's log line for it; without,
    /// makes sure for 2 s that neither comes. Returns the /r/ URLs requested.
    @discardableResult
    private func open(_ b: WebDriver, _ mail: Sent, receipt: Bool, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let logged = receiptLogLines().count
        try b.execute("performance.clearResourceTimings()")
        var entry: String?
        let listed = try b.poll(attempts: 300) {
            entry = try b.findAll("#entries .entry").first { (try? b.text($0).contains(mail.subject)) == true }
            return entry != nil
        }
        guard listed, let entry else {
            XCTFail("no inbox entry shows \(mail.subject)", file: file, line: line)
            return []
        }
        try b.click(entry)
        _ = try b.waitFor("#message-body", attempts: 300)
        XCTAssertTrue(try b.text(try b.waitFor("#message-subject")).contains(mail.subject), file: file, line: line)
        let srcdoc = try b.execute("return document.getElementById('message-body').srcdoc") as? String ?? ""
        XCTAssertTrue(srcdoc.contains("BODY-\(mail.label)-\(tag)"), "the body shows", file: file, line: line)
        var requested: [String] = []
        if receipt {
            let seen = try b.poll(attempts: 100) {
                requested = try receiptRequests(b)
                return !requested.isEmpty && receiptLogLines().count > logged
            }
            XCTAssertTrue(seen, "the browser requested /r/ after showing \(mail.label) (\(requested)) and nginx logged it",
                          file: file, line: line)
            XCTAssertEqual(requested.count, 1, "one /r/ request per opening: \(requested)", file: file, line: line)
        } else {
            _ = try b.poll(attempts: 20) {
                requested = try receiptRequests(b)
                return !requested.isEmpty || receiptLogLines().count > logged
            }
            XCTAssertEqual(requested, [], "no /r/ request for \(mail.label)", file: file, line: line)
            XCTAssertEqual(receiptLogLines().count, logged, "nginx logged no read of \(mail.label)", file: file, line: line)
        }
        return requested
    }

    // MARK: - nginx and its logs

    private var receiptLog: String { inst.root.appending(path: "logs/receipts.log") }

    private func logLines(_ name: String) -> [String] {
        let data = FileManager.default.contents(atPath: inst.root.appending(path: "logs/\(name)")) ?? Data()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    private func receiptLogLines() -> [String] { logLines("receipts.log") }

    /// Appends lines (each ended by a newline) to the receipt log, as nginx would.
    private func append(_ lines: [Data]) throws {
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: receiptLog))
        defer { try? h.close() }
        try h.seekToEnd()
        for line in lines { try h.write(contentsOf: line + Data([0x0A])) }
    }

    static func isoTime(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
        return f.string(from: date)
    }

    /// SIGUSR1 to nginx's master (D/run/nginx.pid), then waits (bounded, 10 s) until the log
    /// exists again and no nginx process still holds the renamed file.
    private func reopenLogs() throws {
        let text = try String(contentsOfFile: inst.root.appending(path: "run/nginx.pid"), encoding: .utf8)
        let master = try XCTUnwrap(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), text)
        XCTAssertGreaterThan(master, 1)
        XCTAssertEqual(kill(master, SIGUSR1), 0)
        let old = Self.realPath(receiptLog + ".1")
        var holders: [String] = []
        let reopened = (0..<100).contains { _ in
            holders = Self.openFiles(of: [master] + Self.children(of: master))
            if FileManager.default.fileExists(atPath: receiptLog), !holders.contains(old),
               holders.contains(Self.realPath(receiptLog)) { return true }
            usleep(100_000)
            return false
        }
        XCTAssertTrue(reopened, "nginx reopened its logs after SIGUSR1: \(holders); \(nginx?.diagnostics() ?? "")")
    }

    static func realPath(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }

    static func children(of parent: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count >= 2 && pid_t(fields[1]) == parent
        }
    }

    static func openFiles(of pids: [pid_t]) -> [String] {
        pids.flatMap { pid in
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).compactMap {
                try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")
            }
        }
    }

    /// The files under `root` whose bytes contain `needle`.
    private func filesContaining(_ needle: String, under root: String) -> [String] {
        let bytes = Data(needle.utf8)
        return (FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []).filter { name in
            guard let data = FileManager.default.contents(atPath: root.appending(path: name)) else { return false }
            return data.range(of: bytes) != nil
        }
    }

    // MARK: - The link scanner

    static let scannerAgent = "Mozilla/5.0 (compatible; LinkScanner/1.0; +https://scanner.example/)"

    /// Runs curl against nginx; returns the HTTP status code ("000" when nothing answered).
    private func curl(_ arguments: [String]) throws -> String {
        try Shell.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--max-redirs", "5",
                               "-A", Self.scannerAgent] + arguments, timeout: 30).out
    }

    /// The same URL on the test's nginx: scheme, host and port replaced, path and query kept.
    private func onTestServer(_ link: String) -> String? {
        guard var c = URLComponents(string: link), let scheme = c.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            return nil
        }
        c.scheme = "http"
        c.host = "127.0.0.1"
        c.port = port
        c.user = nil
        c.password = nil
        c.fragment = nil
        if c.percentEncodedPath.isEmpty { c.percentEncodedPath = "/" }
        return c.string
    }

    /// Every http(s) URL in a text or HTML: attribute values (href, src, action, background,
    /// poster, CSS url()), resolved against `base`, and bare URLs.
    static func links(in text: String, relativeTo base: String) -> Set<String> {
        let text = text.replacingOccurrences(of: "&amp;", with: "&")
        let range = NSRange(text.startIndex..., in: text)
        var found = Set<String>()
        func add(_ value: String) {
            let v = value.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !v.isEmpty, !v.hasPrefix("#") else { return }
            let lower = v.lowercased()
            guard !["mailto:", "tel:", "cid:", "data:", "javascript:"].contains(where: lower.hasPrefix) else { return }
            guard let url = URL(string: v, relativeTo: URL(string: base))?.absoluteURL,
                  let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else { return }
            found.insert(url.absoluteString)
        }
        let attribute = try! NSRegularExpression(
            pattern: #"(?i)\b(?:href|src|action|background|poster|formaction)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"#)
        let cssURL = try! NSRegularExpression(pattern: #"(?i)url\(\s*['"]?([^'")\s]+)"#)
        for regex in [attribute, cssURL] {
            for m in regex.matches(in: text, range: range) {
                for g in 1..<m.numberOfRanges {
                    if let r = Range(m.range(at: g), in: text) { add(String(text[r])) }
                }
            }
        }
        let bare = try! NSRegularExpression(pattern: #"(?i)\bhttps?://[^\s"'<>`{}|\\^\[\]]+"#)
        for m in bare.matches(in: text, range: range) {
            guard let r = Range(m.range, in: text) else { continue }
            var url = String(text[r])
            while let last = url.last, ".,;:!?)".contains(last) { url.removeLast() }
            add(url)
        }
        return found
    }
}
