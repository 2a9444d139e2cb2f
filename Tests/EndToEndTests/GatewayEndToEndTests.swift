// The gateway side end to end (issue 7), with real components on loopback: a private Debian
// Postfix runs `spoolrun gateway filter` as its pipe(8) content filter (docs/gateway.md's
// setup: mail in on one smtpd, re-injected through msmtp at a second smtpd without the
// filter) and relays to a real SMTP server (aiosmtpd). One message goes to a direct-capable
// recipient, one that must go through webmail and one that gets an OTP PDF. The tunnel
// messages are dropped into a portal's spool and swept: the webmail recipient reads the
// message in headless Chromium (nginx from setup's config), the OTP recipient gets the PDF,
// the direct recipient's copy is the original byte for byte after the trace fields, and no
// plaintext ever went to the webmail or OTP recipient. A sendmail that fails gives exit 75:
// Postfix defers, and its retries deliver every part exactly once (also shown without
// Postfix, the filter run by hand as pipe(8) would).
import Foundation
import TestSupport
import XCTest

final class GatewayEndToEndTests: XCTestCase {
    private var scratch: TemporaryDirectory!
    private var nginx: NginxServer?
    private var browser: WebDriver?
    private var sink: SMTPSink?
    private var postfix: PostfixServer?
    private var inst = ""
    private var gatewayConfig = ""
    private let tag = String(UInt32.random(in: 100_000...999_999))

    static let alice = "alice@corp.example"
    static let dan = "dan@partner.test", bob = "bob@ext.test", olga = "olga@ext.test"
    static let tunnelAddress = "webmail@portal.test", tunnelSender = "webmail-sender@gateway.test"

    private var marker: String { "MARKER-BODY-\(tag)" }
    private var shownSubject: String { "Vertrag Grüße \(tag)" }

    /// CRLF throughout, with Date and Message-ID, so that nothing on the way (msmtp) adds to it.
    private func original() -> [UInt8] {
        Array("""
            From: Alice Example <alice@corp.example>\r
            To: dan@partner.test, Bob <bob@ext.test>, olga@ext.test\r
            Subject: =?utf-8?q?=5BSECURE=5D_Vertrag_Gr=C3=BC=C3=9Fe_\(tag)?=\r
            Date: Thu, 26 Nov 2026 09:00:00 +0000\r
            Message-ID: <gw-\(tag)@corp.example>\r
            MIME-Version: 1.0\r
            Content-Type: text/plain; charset=utf-8\r
            Content-Transfer-Encoding: 8bit\r
            \r
            \(marker) the contract, Grüße.\r

            """.utf8)
    }

    override func setUpWithError() throws {
        guard WebDriver.chromedriverPath != nil, WebDriver.chromiumPath != nil else { throw MissingTool("chromedriver or chromium") }
        guard NginxServer.nginxPath != nil else { throw MissingTool("nginx") }
        for tool in ["qpdf", "pdftotext"] where Tools.which(tool) == nil { throw MissingTool(tool) }
        scratch = try TemporaryDirectory("spoolrun-gateway")
        inst = scratch.file("inst")
        let port = try LocalPorts.free()
        try Shell.check(Paths.spoolrun, ["setup", "--dir", inst, "--listen", "127.0.0.1:\(port)",
                                         "--recipient-address", Self.tunnelAddress, "--sender-address", Self.tunnelSender],
                        timeout: 120)
        let smtp = try SMTPSink()
        sink = smtp
        let config = inst.appending(path: "spoolrun.toml")
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(of: #"(?m)^sendmail = .*$"#, with: "sendmail = \"\(smtp.sendmailCommand)\"",
                                         options: .regularExpression)
        try text.write(toFile: config, atomically: true, encoding: .utf8)

        // The gateway: OTP PDFs done by the portal, a partner domain with its own encryption,
        // one recipient who gets encrypted mail as an OTP PDF.
        gatewayConfig = (inst + "-gateway").appending(path: "gateway.toml")
        try "# partners with S/MIME\n@partner.test\n".write(toFile: (inst + "-gateway").appending(path: "direct.txt"), atomically: true, encoding: .utf8)
        try "olga@ext.test\n".write(toFile: (inst + "-gateway").appending(path: "otp.txt"), atomically: true, encoding: .utf8)
        try setGatewaySendmail(smtp.sendmailCommand)
        var gw = try String(contentsOfFile: gatewayConfig, encoding: .utf8)
        for (from, to) in [("otp_enabled = false", "otp_enabled = true"),
                           ("# direct_recipients = \"direct-recipients.txt\"", "direct_recipients = \"direct.txt\""),
                           ("# otp_recipients = \"otp-recipients.txt\"", "otp_recipients = \"otp.txt\"")] {
            XCTAssertTrue(gw.contains(from), "setup's gateway.toml has \(from)")
            gw = gw.replacingOccurrences(of: from, with: to)
        }
        try gw.write(toFile: gatewayConfig, atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        postfix?.stop()
        postfix = nil
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

    private func setGatewaySendmail(_ command: String) throws {
        var gw = try String(contentsOfFile: gatewayConfig, encoding: .utf8)
        gw = gw.replacingOccurrences(of: #"(?m)^sendmail = .*$"#, with: "sendmail = \"\(command)\"", options: .regularExpression)
        try gw.write(toFile: gatewayConfig, atomically: true, encoding: .utf8)
    }

    /// Starts Postfix with the filter (a copy of the binary, run as nobody, who owns the
    /// gateway folder as on a real gateway) re-injecting through `sendmail`, or Postfix's
    /// own re-injection command when nil.
    private func startPostfix(sendmail: ((PostfixServer) throws -> String)? = nil) throws -> PostfixServer {
        let sink = try XCTUnwrap(sink)
        let bin = scratch.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Paths.spoolrun, toPath: bin.appending(path: "spoolrun"))
        for dir in [scratch.path, bin, inst] { chmod(dir, 0o755) }
        chmod(bin.appending(path: "spoolrun"), 0o755)
        let server = try PostfixServer(base: scratch.file("postfix"), relayPort: sink.port,
                                       filterArgv: "\(bin)/spoolrun gateway filter --config \(gatewayConfig) -f ${sender} -- ${recipient}")
        postfix = server
        try setGatewaySendmail(try sendmail?(server) ?? server.reinjectCommand)
        try Shell.check("chown", ["-R", "nobody:nogroup", inst + "-gateway"], timeout: 30)
        return server
    }

    /// A sendmail command that fails (75) while `flag` says so: "all" for every message,
    /// "tunnel" for tunnel messages only (an MTA that is down, or refuses one recipient);
    /// else it runs `otherwise`. Readable and runnable by nobody (the pipe user).
    private func outageSendmail(flag: String, otherwise: String) throws -> String {
        let bin = scratch.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        chmod(bin, 0o755)
        let script = bin.appending(path: "sendmail.sh")
        try """
            #!/bin/sh
            mode=$(cat '\(flag)' 2>/dev/null)
            case "$mode:$*" in
              all:*) echo "sendmail: simulated outage" >&2; exit 75 ;;
              tunnel:*\(Self.tunnelAddress)*) echo "sendmail: simulated refusal" >&2; exit 75 ;;
            esac
            exec \(otherwise) "$@"

            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        return script
    }

    /// After the retries: the direct copy and the two tunnel messages arrived once each, no
    /// tunnel message holds plaintext, and the portal sends one notification to Bob and one
    /// PDF to Olga.
    private func assertEveryPartArrivedOnceAndThePortalDeliversEachOnce(_ sink: SMTPSink) throws {
        let sent = try sink.wait(for: 3, timeout: 60)
        usleep(500_000)
        XCTAssertEqual(try sink.messages().count, 3, "nothing was sent twice")
        XCTAssertEqual(sent.filter { $0.recipients == [Self.dan] }.count, 1)
        let tunnels = sent.filter { $0.recipients == [Self.tunnelAddress] }
        XCTAssertEqual(tunnels.count, 2)
        for t in tunnels { XCTAssertNil(t.raw.range(of: Data(marker.utf8)), "no plaintext in a tunnel message") }

        // The portal delivers each once: one notification to Bob, one PDF to Olga.
        try dropIntoPortalSpool(tunnels)
        try sweep()
        let all = try sink.wait(for: 7, timeout: 60)
        XCTAssertEqual(all.count, 7)
        XCTAssertEqual(all.filter { $0.recipients == [Self.bob] }.count, 1)
        XCTAssertEqual(all.filter { $0.recipients == [Self.olga] }.count, 1)
    }

    /// The message as delivered, without the trace fields in front of it (Received and
    /// Return-Path from Postfix, and exactly one X-Spoolrun-Gateway from the filter).
    private func withoutTraceFields(_ raw: [UInt8]) -> (rest: [UInt8], gatewayFields: [String]) {
        var i = 0
        var gateway: [String] = []
        while i < raw.count {
            var end = i
            repeat {  // the field with its continuation lines
                end = (raw[end...].firstIndex(of: 0x0A) ?? raw.count - 1) + 1
            } while end < raw.count && (raw[end] == 0x20 || raw[end] == 0x09)
            let field = String(decoding: raw[i..<end], as: UTF8.self)
            let name = field.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
            guard ["received", "return-path", "x-spoolrun-gateway"].contains(name) else { break }
            if name == "x-spoolrun-gateway" { gateway.append(field.trimmingCharacters(in: .whitespacesAndNewlines)) }
            i = end
        }
        return (Array(raw[i...]), gateway)
    }

    /// Runs the filter as Postfix's pipe(8) would: envelope as arguments, message on stdin.
    private func filter(_ message: [UInt8]) throws -> ProcessResult {
        try Shell.run(Paths.spoolrun, ["gateway", "filter", "--config", gatewayConfig, "-f", Self.alice, "--",
                                       Self.dan, Self.bob, Self.olga], stdin: Data(message), timeout: 120)
    }

    private func dropIntoPortalSpool(_ tunnels: [SMTPSink.Received]) throws {
        for (n, t) in tunnels.enumerated() {
            let tmp = inst.appending(path: "spool/tmp/gw-\(n)")
            try t.raw.write(to: URL(fileURLWithPath: tmp))
            XCTAssertEqual(rename(tmp, inst.appending(path: "spool/new/gw-\(n)")), 0)
        }
    }

    private func sweep() throws {
        let r = try Shell.run(Paths.spoolrun, ["run", "--config", inst.appending(path: "spoolrun.toml")], timeout: 300)
        XCTAssertEqual(r.status, 0, r.err)
        let failed = (try? FileManager.default.contentsOfDirectory(atPath: inst.appending(path: "spool/failed"))) ?? []
        XCTAssertEqual(failed, [], "every tunnel message the filter made is accepted by the portal")
    }

    private func startPortal() throws -> (WebDriver, String) {
        let text = try String(contentsOfFile: inst.appending(path: "nginx.conf"), encoding: .utf8)
        let port = try XCTUnwrap(text.firstMatch(of: /listen 127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) }, "nginx.conf listens on 127.0.0.1")
        let server = try NginxServer(root: inst, port: port)
        nginx = server
        let b = try WebDriver(downloadDirectory: scratch.file("downloads"))
        browser = b
        return (b, server.base + "/")
    }

    /// The portal password the sender was mailed for `recipient` (first contact).
    private func noticedPassword(for recipient: String, in parsed: [Int: [String: Any]], _ mails: [SMTPSink.Received]) throws -> String {
        let notices = mails.filter { $0.recipients == [Self.alice] }.compactMap { parsed[$0.index] }
            .map { ($0["texts"] as? [String: String] ?? [:]).values.joined(separator: "\n") }
            .filter { $0.contains(recipient) }
        XCTAssertEqual(notices.count, 1, "one password notice to the sender for \(recipient)")
        return try XCTUnwrap(notices.first.flatMap(PasswordFinder.first(in:)), "the notice carries \(recipient)'s password")
    }

    // MARK: - Tests

    func testADirectAWebmailAndAnOTPRecipientEachGetTheirFormAndNoPlaintextReachesTheEncryptedOnes() throws {
        let sink = try XCTUnwrap(sink)
        let postfix = try startPostfix()
        let message = original()
        try postfix.submit(Data(message), from: Self.alice, to: [Self.dan, Self.bob, Self.olga])

        // What left Postfix: the direct copy and two tunnel messages (webmail, otp-pdf).
        let sent = try sink.wait(for: 3, timeout: 60)
        XCTAssertTrue(try postfix.waitUntilQueueEmpty(), "Postfix's queue empties: \(postfix.log)")
        XCTAssertEqual(sent.count, 3, "one copy for the direct recipient, one tunnel message per delivery kind: \(postfix.log)")
        let direct = sent.filter { $0.recipients == [Self.dan] }
        XCTAssertEqual(direct.count, 1)
        let copy = try XCTUnwrap(direct.first)
        XCTAssertEqual(copy.mailFrom, Self.alice, "the direct copy keeps the envelope sender")
        let (rest, gatewayFields) = withoutTraceFields([UInt8](copy.raw))
        XCTAssertEqual(gatewayFields.count, 1, "one trace field from the filter: \(gatewayFields)")
        XCTAssertTrue(gatewayFields.first?.hasPrefix("X-Spoolrun-Gateway: pass-through; ") == true, "\(gatewayFields)")
        XCTAssertEqual(rest, message, "the direct copy is the original byte for byte after the trace fields")

        let tunnels = sent.filter { $0.recipients == [Self.tunnelAddress] }
        XCTAssertEqual(tunnels.count, 2)
        for t in tunnels {
            XCTAssertEqual(t.mailFrom, Self.tunnelSender, "tunnel messages come from webmail_sender")
            XCTAssertNil(t.raw.range(of: Data(marker.utf8)), "the tunnel message holds no plaintext")
            XCTAssertNil(t.raw.range(of: Data("Vertrag".utf8)), "not even the subject")
        }
        XCTAssertFalse(sent.contains { !Set($0.recipients).isDisjoint(with: [Self.bob, Self.olga]) },
                       "nothing went to the webmail or OTP recipient directly")

        // The portal: the tunnel messages arrive in its spool and are swept.
        try dropIntoPortalSpool(tunnels)
        try sweep()
        // Bob's notification, Olga's PDF mail, and a password notice to Alice for each.
        let all = try sink.wait(for: 7, timeout: 60)
        XCTAssertEqual(all.count, 7, all.map { "\($0.recipients)" }.joined(separator: " "))
        let parsed = try sink.checkAll()
        for mail in all where !Set(mail.recipients).isDisjoint(with: [Self.bob, Self.olga]) {
            let texts = (parsed[mail.index]?["texts"] as? [String: String] ?? [:]).values.joined()
            XCTAssertNil(mail.raw.range(of: Data(marker.utf8)), "no plaintext body to \(mail.recipients)")
            XCTAssertFalse(texts.contains(marker), "no plaintext body to \(mail.recipients), decoded")
        }
        XCTAssertEqual(all.filter { $0.recipients == [Self.bob] }.count, 1, "one notification to Bob")
        let olgaMails = all.filter { $0.recipients == [Self.olga] }
        XCTAssertEqual(olgaMails.count, 1, "one PDF mail to Olga")
        let bobPassword = try noticedPassword(for: Self.bob, in: parsed, all)
        let olgaPassword = try noticedPassword(for: Self.olga, in: parsed, all)

        // Olga's PDF: encrypted, with one attachment.
        let olgaMail = try XCTUnwrap(olgaMails.first)
        let saved = scratch.file("olga")
        try FileManager.default.createDirectory(atPath: saved, withIntermediateDirectories: true)
        let names = try JSONSerialization.jsonObject(with: try Shell.check(
            "python3", [Paths.repo.appending(path: "Tests/Support/mail_check.py"), "--save-attachments",
                        sink.directory.appending(path: "\(olgaMail.index).eml"), saved]).stdout) as? [String] ?? []
        XCTAssertEqual(names.count, 1, "Olga's mail carries the PDF: \(names)")
        let pdf = saved.appending(path: try XCTUnwrap(names.first))
        XCTAssertTrue(pdf.hasSuffix(".pdf"), pdf)
        XCTAssertNotEqual(try Shell.run("pdftotext", [pdf, "-"], timeout: 60).status, 0, "the PDF does not open without its password")

        // Bob reads the message in the portal, the subject without its tag.
        let (b, base) = try startPortal()
        try b.navigate(base)
        try b.submitPortalSignIn(Self.bob, bobPassword)
        let entry = try b.waitFor("#entries .entry", attempts: 300)
        let listed = try b.text(entry)
        XCTAssertTrue(listed.contains(shownSubject), "the inbox shows the subject: \(listed)")
        XCTAssertFalse(listed.lowercased().contains("[secure]"), "the tag is removed from the subject Bob sees: \(listed)")
        try b.click(entry)
        _ = try b.waitFor("#message-body", attempts: 300)
        XCTAssertTrue(try b.poll(attempts: 300) {
            (try b.execute("return document.getElementById('message-body').srcdoc") as? String ?? "").contains(marker)
        }, "Bob reads the body")
        XCTAssertEqual(try b.text(try b.waitFor("#message-subject")), shownSubject)

        // Olga's password for the PDF is in her portal mailbox, and it opens the mailed PDF.
        try b.click(try XCTUnwrap(try b.find("#sign-out")))
        try b.navigate(base)
        try b.submitPortalSignIn(Self.olga, olgaPassword)
        try b.click(try b.waitFor("#entries .entry", attempts: 300))
        let shown = try b.waitFor("#otp-password", attempts: 300)
        var secret = ""
        XCTAssertTrue(try b.poll(attempts: 300) { secret = try b.text(shown); return !secret.isEmpty })
        let text = try Shell.run("pdftotext", ["-upw", secret, "-enc", "UTF-8", pdf, "-"], timeout: 60)
        XCTAssertEqual(text.status, 0, text.err)
        XCTAssertTrue(text.out.contains(marker), "the OTP recipient's PDF holds the message")
        XCTAssertTrue(text.out.contains(shownSubject), "with the subject as the portal shows it")
    }

    func testAFailingSendmailMakesPostfixDeferAndItsRetriesDeliverEveryPartExactlyOnce() throws {
        let sink = try XCTUnwrap(sink)
        // The re-injection fails while a flag file says so: for every message ("all"), or
        // only for tunnel messages ("tunnel"), as an MTA that is down or refuses one recipient.
        let flag = scratch.file("outage")
        let postfix = try startPostfix { server in try self.outageSendmail(flag: flag, otherwise: server.reinjectCommand) }
        let message = original()

        try "all".write(toFile: flag, atomically: true, encoding: .utf8)
        chmod(flag, 0o644)
        try postfix.submit(Data(message), from: Self.alice, to: [Self.dan, Self.bob, Self.olga])
        XCTAssertTrue(postfix.waitForDeferrals(1), "exit 75 makes Postfix defer: \(postfix.log)")
        XCTAssertTrue(postfix.log.contains("simulated outage"), "the reason is in Postfix's log")
        XCTAssertEqual(try postfix.queue().count, 1, "the message waits in the queue")

        // Postfix retries; now only the tunnel part fails. The direct copy goes, once.
        try "tunnel".write(toFile: flag, atomically: true, encoding: .utf8)
        for n in 2...3 {
            try postfix.flush()
            XCTAssertTrue(postfix.waitForDeferrals(n), "retry \(n) deferred again: \(postfix.log)")
        }
        _ = try sink.wait(for: 1, timeout: 30)
        usleep(500_000)
        XCTAssertEqual(try sink.messages().map(\.recipients), [[Self.dan]], "the direct copy went once, nothing else")

        // The outage ends: the next retry sends what is missing.
        try FileManager.default.removeItem(atPath: flag)
        try postfix.flush()
        XCTAssertTrue(try postfix.waitUntilQueueEmpty(), postfix.log)
        try assertEveryPartArrivedOnceAndThePortalDeliversEachOnce(sink)
    }

    func testAFailingSendmailGivesExit75AndTheFiltersRetriesDeliverEveryPartExactlyOnce() throws {
        let sink = try XCTUnwrap(sink)
        // A sendmail that fails while a flag file exists: for every message ("all"), or only
        // for tunnel messages ("tunnel"), as an MTA that is down or refuses one recipient.
        let flag = scratch.file("outage")
        try setGatewaySendmail(try outageSendmail(flag: flag, otherwise: sink.sendmailCommand))
        let message = original()

        try "all".write(toFile: flag, atomically: true, encoding: .utf8)
        var run = try filter(message)
        XCTAssertEqual(run.status, 75, "a sendmail failure is temporary: \(run.err)")
        XCTAssertTrue(run.err.contains("simulated outage"), "the reason reaches Postfix's log: \(run.err)")
        XCTAssertEqual(try sink.messages().count, 0)

        // Postfix retries; now only the tunnel part fails. The direct copy goes, once.
        try "tunnel".write(toFile: flag, atomically: true, encoding: .utf8)
        for _ in 0..<2 {
            run = try filter(message)
            XCTAssertEqual(run.status, 75, run.err)
        }
        XCTAssertEqual(try sink.messages().map(\.recipients), [[Self.dan]], "the direct copy went once, nothing else")

        // The outage ends: the retry sends what is missing, and a further retry sends nothing.
        try FileManager.default.removeItem(atPath: flag)
        run = try filter(message)
        XCTAssertEqual(run.status, 0, run.err)
        run = try filter(message)
        XCTAssertEqual(run.status, 0, run.err)
        try assertEveryPartArrivedOnceAndThePortalDeliversEachOnce(sink)
    }
}
