// The portal's outgoing mail over a real SMTP session (DESIGN §6): `spoolrun run` hands
// each queued mail to msmtp (as `mail.sendmail`), which delivers it to an aiosmtpd server on
// 127.0.0.1 (SMTPSink). What arrives is read by Python's email package under policy.strict,
// and checked against the outbox (`spoolrun outbox list`/`show`) and `spoolrun status`.
import Foundation
import TestSupport
import XCTest

final class MailDeliveryTests: XCTestCase {
    // MARK: - Helpers

    /// A message as the sink received it, with what Python's email package made of it.
    struct Arrival {
        let received: SMTPSink.Received
        let parsed: [String: Any]

        var rcpt: [String] { received.recipients }
        var mailFrom: String { received.mailFrom }
        var defects: [String] { parsed["defects"] as? [String] ?? ["mail_check gave no defects list"] }
        var headers: [(name: String, value: String)] {
            (parsed["headers"] as? [[String]] ?? []).map { ($0[0], $0.count > 1 ? $0[1] : "") }
        }
        func header(_ name: String) -> [String] { headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value) }
        var headerNames: [String] { headers.map { $0.name.lowercased() }.sorted() }
        func addresses(_ field: String) -> [String] { (parsed["recipients"] as? [String: [String]])?[field] ?? [] }
        var tree: [String] { parsed["tree"] as? [String] ?? [] }
        var texts: [String: String] { parsed["texts"] as? [String: String] ?? [:] }
        var attachments: [[String: Any]] { parsed["attachments"] as? [[String: Any]] ?? [] }
        var messageID: String? { header("Message-Id").first }
        /// The raw bytes, the decoded header values and the decoded text parts: where a leak could show.
        var searchable: String {
            ([received.text] + headers.map { "\($0.name): \($0.value)" } + texts.values.sorted()).joined(separator: "\n")
        }
        var rawHeaderBlock: String {
            let text = received.text
            guard let end = text.range(of: "\r\n\r\n") ?? text.range(of: "\n\n") else { return text }
            return String(text[..<end.lowerBound])
        }
    }

    /// One row of `spoolrun outbox list --json`.
    struct OutboxRow {
        let json: [String: Any]
        var id: String { json["id"] as? String ?? "" }
        var kind: String { json["kind"] as? String ?? "" }
        var to: String { json["to"] as? String ?? "" }
        var from: String { json["from"] as? String ?? "" }
        var state: String { json["state"] as? String ?? "" }
        var attempts: Int { json["attempts"] as? Int ?? -1 }
        var envelopeID: String? { json["envelope_id"] as? String }
        var lastError: String? { json["last_error"] as? String }
        var nextAttempt: Date? { (json["next_attempt_at"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) } }
    }

    /// An installation made by `spoolrun setup` whose mail goes through msmtp to `sink`.
    private func installation(sendingTo sink: SMTPSink?, showSubject: Bool = false) throws -> TestInstallation {
        let inst = try TestInstallation()
        if let sink { try inst.setConfig("sendmail", "\"\(sink.sendmailCommand)\"") }
        try inst.setConfig("show_subject", showSubject ? "true" : "false")
        return inst
    }

    /// mail.from as setup wrote it into spoolrun.toml.
    private func mailFrom(_ inst: TestInstallation) throws -> String {
        let text = try String(contentsOfFile: inst.config, encoding: .utf8)
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("from = ") }, "spoolrun.toml names mail.from")
        return line.dropFirst("from = ".count).trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
    }

    /// An RFC 5322 message with CRLF line ends.
    private func message(_ headers: [String], _ body: [String]) -> Data {
        Data((headers + [""] + body + [""]).joined(separator: "\r\n").utf8)
    }

    /// Wraps `original` as the gateway would (`spoolrun wrap ARGS`) and delivers it into the spool.
    private func send(_ inst: TestInstallation, _ original: Data, _ args: [String], name: String) throws {
        try inst.deliver(try inst.wrap(original, arguments: args), name: name)
    }

    @discardableResult
    private func sweep(_ inst: TestInstallation, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let r = try inst.sweep()
        XCTAssertEqual(r.status, 0, "spoolrun run: \(r.err)", file: file, line: line)
        return r
    }

    private func outbox(_ inst: TestInstallation) throws -> [OutboxRow] {
        let r = try Shell.check(Paths.spoolrun, ["outbox", "list", "--config", inst.config, "--json"])
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]], r.out)
        return rows.map(OutboxRow.init)
    }

    private func outboxText(_ inst: TestInstallation) throws -> String {
        try Shell.check(Paths.spoolrun, ["outbox", "list", "--config", inst.config]).out
    }

    /// The Message-Id each outbox row's message carries (from `spoolrun outbox show ID`).
    private func messageIDs(_ inst: TestInstallation, _ rows: [OutboxRow]) throws -> [String: String] {
        var ids: [String: String] = [:]
        for row in rows {
            let shown = try Shell.check(Paths.spoolrun, ["outbox", "show", "--config", inst.config, row.id]).out
            let line = try XCTUnwrap(shown.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).lowercased().hasPrefix("message-id:") },
                                     "outbox show \(row.id) lists the header: \(shown)")
            ids[row.id] = String(line.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces)
        }
        return ids
    }

    private func arrivals(_ sink: SMTPSink) throws -> [Arrival] {
        let received = try sink.messages()
        let parsed = try sink.checkAll()
        return try received.map { Arrival(received: $0, parsed: try XCTUnwrap(parsed[$0.index], "mail_check read \($0.index).eml")) }
    }

    private func outboxStatus(_ inst: TestInstallation) throws -> [String: Any] {
        try XCTUnwrap(try inst.status()["outbox"] as? [String: Any], "status --json has an outbox object")
    }

    private func statusText(_ inst: TestInstallation) throws -> String {
        try Shell.check(Paths.spoolrun, ["status", "--config", inst.config]).out
    }

    /// What every message that arrives must be: parsed without a defect by policy.strict,
    /// from mail.from, to one envelope recipient that is also the one To address, and
    /// marked as automatic.
    private func assertWellFormed(_ a: Arrival, mailFrom: String, file: StaticString = #filePath, line: UInt = #line) {
        let what = "message \(a.received.index) to \(a.rcpt)"
        XCTAssertEqual(a.defects, [], "\(what) parses under policy.strict without a defect", file: file, line: line)
        XCTAssertEqual(a.mailFrom, mailFrom, "\(what): MAIL FROM is mail.from", file: file, line: line)
        XCTAssertEqual(a.rcpt.count, 1, "\(what): one envelope recipient", file: file, line: line)
        XCTAssertEqual(a.addresses("to"), a.rcpt, "\(what): To matches the envelope", file: file, line: line)
        XCTAssertEqual(a.addresses("cc") + a.addresses("bcc"), [], "\(what): no Cc or Bcc", file: file, line: line)
        XCTAssertEqual(a.addresses("from"), [mailFrom], "\(what): From is mail.from", file: file, line: line)
        XCTAssertEqual(a.header("Auto-Submitted"), ["auto-generated"], what, file: file, line: line)
        for name in ["Date", "Message-Id", "MIME-Version", "Subject"] {
            XCTAssertEqual(a.header(name).count, 1, "\(what) has one \(name)", file: file, line: line)
        }
        XCTAssertTrue(a.received.raw.allSatisfy { $0 < 0x80 }, "\(what) is 7-bit (no 8BITMIME was negotiated)", file: file, line: line)
    }

    /// Every row is sent and arrived exactly once, as the row says (kind aside), and nothing else arrived.
    private func assertOutboxArrivedOnce(_ inst: TestInstallation, _ sink: SMTPSink, file: StaticString = #filePath, line: UInt = #line) throws
        -> [(row: OutboxRow, arrival: Arrival)] {
        let rows = try outbox(inst)
        let ids = try messageIDs(inst, rows)
        let got = try arrivals(sink)
        XCTAssertEqual(got.count, rows.count, "as many messages arrived as the outbox holds", file: file, line: line)
        var pairs: [(OutboxRow, Arrival)] = []
        for row in rows {
            XCTAssertEqual(row.state, "sent", "row \(row.id) (\(row.kind) to \(row.to))", file: file, line: line)
            let matching = got.filter { $0.messageID == ids[row.id] }
            XCTAssertEqual(matching.count, 1, "row \(row.id) (\(row.kind) to \(row.to)) arrived exactly once", file: file, line: line)
            guard let a = matching.first else { continue }
            XCTAssertEqual(a.rcpt, [row.to], "row \(row.id): RCPT TO is the row's recipient", file: file, line: line)
            XCTAssertEqual(a.mailFrom, row.from, "row \(row.id): MAIL FROM is the row's sender", file: file, line: line)
            pairs.append((row, a))
        }
        let known = Set(ids.values)
        for a in got where !known.contains(a.messageID ?? "") {
            XCTFail("message \(a.received.index) to \(a.rcpt) is not in the outbox", file: file, line: line)
        }
        return pairs
    }

    // MARK: - Real SMTP

    func testEveryMailArrivesOverRealSMTPAndParsesWithoutDefects() throws {
        let sink = try SMTPSink()
        let inst = try installation(sendingTo: sink, showSubject: true)
        let from = try mailFrom(inst)
        // Alice writes to Bob (first contact, no password: a notice for Alice) and Carol (her password given).
        try send(inst, message(["From: Alice Example <alice@corp.test>", "To: Bob <bob@ext.test>, carol@ext.test",
                                "Subject: Quarterly figures", "Date: Wed, 25 Nov 2026 10:00:00 +0000",
                                "Message-ID: <q4@corp.test>"], ["The figures are attached."]),
                 ["--to", "bob@ext.test", "carol@ext.test", "--password", "carol@ext.test=Carols-own-pw-1", "--read-receipt"],
                 name: "m1")
        // Jürgen (non-ASCII name and subject) writes to Dave and Erin, both first contacts.
        try send(inst, message(["From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@corp.test>", "To: dave@ext.test, erin@ext.test",
                                "Subject: =?utf-8?b?w5xiZXJ3ZWlzdW5nIOKAkyBRNCDinJM=?=", "Date: Wed, 25 Nov 2026 10:01:00 +0000",
                                "Message-ID: <ueberweisung@corp.test>", "MIME-Version: 1.0",
                                "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"],
                               ["Grüße aus Köln."]),
                 ["--to", "dave@ext.test", "erin@ext.test"], name: "m2")
        try sweep(inst)

        let rows = try outbox(inst)
        let notifications = rows.filter { $0.kind == "notification" }
        let notices = rows.filter { $0.kind == "password-notice" }
        XCTAssertEqual(notifications.map(\.to).sorted(), ["bob@ext.test", "carol@ext.test", "dave@ext.test", "erin@ext.test"],
                       "one notification per message and recipient")
        XCTAssertEqual(notices.map(\.to).sorted(), ["alice@corp.test", "juergen@corp.test", "juergen@corp.test"],
                       "one password notice per generated password, to the envelope's sender")
        XCTAssertEqual(rows.count, 7, "nothing else is queued: \(rows.map { "\($0.kind) \($0.to)" })")

        let pairs = try assertOutboxArrivedOnce(inst, sink)
        XCTAssertEqual(pairs.count, 7)
        for (row, a) in pairs {
            assertWellFormed(a, mailFrom: from)
            if row.kind == "notification" {
                XCTAssertEqual(a.tree, ["multipart/alternative", "text/plain", "text/html"], "a notification has text and HTML")
                XCTAssertTrue(a.texts["text/plain"]?.contains("http://127.0.0.1:8080/") == true, "it links to the portal")
            } else {
                XCTAssertTrue(a.tree.allSatisfy { $0.hasPrefix("text/") || $0.hasPrefix("multipart/") }, "\(a.tree)")
            }
        }
        // RFC 2047 both ways: the non-ASCII sender name and subject arrive intact (show_subject is on).
        let toDave = try XCTUnwrap(pairs.first { $0.row.to == "dave@ext.test" }?.arrival)
        let daveText = toDave.header("Subject").joined() + (toDave.texts["text/plain"] ?? "")
        XCTAssertTrue(daveText.contains("Jürgen Müller"), daveText)
        XCTAssertTrue(daveText.contains("Überweisung – Q4 ✓"), daveText)

        let status = try outboxStatus(inst)
        XCTAssertEqual(status["queued"] as? Int, 0)
        XCTAssertEqual(status["sent"] as? Int, 7)
        XCTAssertEqual(status["failed"] as? Int, 0)
        XCTAssertTrue(try statusText(inst).contains("outbox: 0 queued, 7 sent, 0 failed"))

        // The next sweep sends nothing again.
        try sweep(inst)
        XCTAssertEqual(try sink.messages().count, 7, "sent mail is not sent twice")
    }

    func testThePasswordNoticeGoesToTheSenderOnlyAndNotificationsCarryNoBodyAttachmentOrPassword() throws {
        let sink = try SMTPSink()
        let inst = try installation(sendingTo: sink, showSubject: false)
        let from = try mailFrom(inst)
        let t = UUID().uuidString.prefix(8).lowercased()
        let givenPassword = "Carol-given-pw-\(t)"

        func original(_ round: Int) -> (Data, subject: String, secrets: [String]) {
            let subject = "MARKERSUBJ\(round)x\(t)"
            let attachment = Data("MARKERATTBYTES\(round)x\(t) confidential figures 4711\n".utf8)
            let secrets = ["MARKERTEXT\(round)x\(t)", "MARKERHTML\(round)x\(t)", "MARKERFILE\(round)x\(t)",
                           "MARKERATTBYTES\(round)x\(t)", attachment.base64EncodedString()]
            let data = message(
                ["From: Alice Example <alice@corp.test>", "To: Bob <bob@ext.test>, Carol <carol@ext.test>",
                 "Subject: Merger \(subject)", "Date: Wed, 25 Nov 2026 10:00:00 +0000", "Message-ID: <leak\(round)-\(t)@corp.test>",
                 "MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=\"outer\""],
                ["--outer", "Content-Type: multipart/alternative; boundary=\"alt\"", "",
                 "--alt", "Content-Type: text/plain; charset=utf-8", "", "\(secrets[0]) the price is 4711 per share",
                 "--alt", "Content-Type: text/html; charset=utf-8", "", "<p>\(secrets[1]) the price</p>", "--alt--",
                 "--outer", "Content-Type: application/octet-stream; name=\"\(secrets[2]).bin\"",
                 "Content-Disposition: attachment; filename=\"\(secrets[2]).bin\"", "Content-Transfer-Encoding: base64", "",
                 attachment.base64EncodedString(), "--outer--"])
            return (data, subject, secrets)
        }

        // Round 1, show_subject off: Bob is new without a password, Carol's is given.
        let first = original(1)
        try send(inst, first.0, ["--to", "bob@ext.test", "carol@ext.test", "--password", "carol@ext.test=\(givenPassword)"],
                 name: "r1")
        try sweep(inst)
        var pairs = try assertOutboxArrivedOnce(inst, sink)
        XCTAssertEqual(pairs.count, 3, "two notifications and one password notice")
        let notices = pairs.filter { $0.row.kind == "password-notice" }
        XCTAssertEqual(notices.count, 1, "a notice for Bob's generated password only, none for Carol's given one")
        let notice = try XCTUnwrap(notices.first?.arrival)
        assertWellFormed(notice, mailFrom: from)
        XCTAssertEqual(notice.rcpt, ["alice@corp.test"], "the password notice goes to the envelope's sender only")
        XCTAssertEqual(notice.addresses("to"), ["alice@corp.test"])
        let noticeText = notice.texts.values.joined(separator: "\n")
        let bobPassword = try XCTUnwrap(PasswordFinder.first(in: noticeText), "the notice carries Bob's password: \(noticeText)")
        XCTAssertTrue(noticeText.contains("bob@ext.test"), "the notice names the recipient")

        for (row, a) in pairs {
            assertWellFormed(a, mailFrom: from)
            if row.kind == "notification" {
                XCTAssertTrue(["bob@ext.test", "carol@ext.test"].contains(a.rcpt.first ?? ""), "\(a.rcpt)")
                XCTAssertFalse(a.searchable.contains(bobPassword), "the notification to \(a.rcpt) carries no password")
                XCTAssertEqual(a.attachments.count, 0, "a notification carries no attachment")
            }
            XCTAssertFalse(a.searchable.contains(givenPassword), "a given password is never mailed (to \(a.rcpt))")
            for secret in first.secrets {
                XCTAssertFalse(a.searchable.contains(secret), "\(row.kind) to \(a.rcpt) leaks \(secret)")
            }
            XCTAssertFalse(a.searchable.contains(first.subject), "show_subject is off: \(row.kind) to \(a.rcpt) has no subject")
        }
        XCTAssertEqual(pairs.filter { $0.arrival.searchable.contains(bobPassword) }.count, 1, "the password is in the notice only")

        // Round 2, show_subject on: the subject appears in the notifications; nothing else does.
        try inst.setConfig("show_subject", "true")
        let second = original(2)
        try send(inst, second.0, ["--to", "bob@ext.test", "carol@ext.test"], name: "r2")
        try sweep(inst)
        pairs = try assertOutboxArrivedOnce(inst, sink)
        XCTAssertEqual(pairs.count, 5, "two more notifications, no more notices (both are known now)")
        let round2 = pairs.filter { $0.arrival.received.index > 3 }
        XCTAssertEqual(round2.map(\.row.kind), ["notification", "notification"])
        XCTAssertEqual(Set(round2.flatMap(\.arrival.rcpt)), ["bob@ext.test", "carol@ext.test"])
        for (_, a) in round2 {
            assertWellFormed(a, mailFrom: from)
            let visible = a.header("Subject").joined() + "\n" + a.texts.values.joined(separator: "\n")
            XCTAssertTrue(visible.contains(second.subject), "show_subject is on: the notification to \(a.rcpt) names the subject")
            for secret in second.secrets + first.secrets + [bobPassword, givenPassword, first.subject] {
                XCTAssertFalse(a.searchable.contains(secret), "the notification to \(a.rcpt) leaks \(secret)")
            }
            XCTAssertEqual(a.attachments.count, 0)
        }
    }

    func testTheNotificationNamesTheEnvelopesSenderAddressNotAnotherFromOfTheOriginal() throws {
        let sink = try SMTPSink()
        let inst = try installation(sendingTo: sink)
        let date = "Date: Wed, 25 Nov 2026 10:00:00 +0000"
        // The gateway checked alice@corp.test (--from); the original's From claims someone else.
        try send(inst, message(["From: Chief Executive <ceo@corp.test>", "To: bob@ext.test", "Subject: s1", date,
                                "Message-ID: <claims-ceo@corp.test>"], ["Hello."]),
                 ["--to", "bob@ext.test", "--from", "alice@corp.test", "--password", "bob@ext.test=Bobs-given-pw-1"], name: "m1")
        // The usual case: the original's From is the envelope's sender, so its name is shown with it.
        try send(inst, message(["From: Alice Example <alice@corp.test>", "To: carol@ext.test", "Subject: s2", date,
                                "Message-ID: <is-alice@corp.test>"], ["Hello."]),
                 ["--to", "carol@ext.test", "--password", "carol@ext.test=Carols-own-pw-1"], name: "m2")
        try sweep(inst)
        let notifications = try assertOutboxArrivedOnce(inst, sink).filter { $0.row.kind == "notification" }.map(\.arrival)
        XCTAssertEqual(notifications.map(\.rcpt).sorted { $0[0] < $1[0] }, [["bob@ext.test"], ["carol@ext.test"]])
        for a in notifications {
            let visible = a.header("Subject").joined() + "\n" + a.texts.values.joined(separator: "\n")
            if a.rcpt == ["bob@ext.test"] {
                XCTAssertTrue(a.header("Subject").joined().hasSuffix("from alice@corp.test"), a.header("Subject").joined())
                XCTAssertTrue(a.texts.values.allSatisfy { $0.contains("alice@corp.test") }, visible)
                XCTAssertFalse(visible.contains("ceo@corp.test") || visible.contains("Chief Executive"),
                               "the original's unchecked From is not shown as the sender: \(visible)")
            } else {
                XCTAssertTrue(a.header("Subject").joined().hasSuffix("from Alice Example <alice@corp.test>"), a.header("Subject").joined())
                XCTAssertTrue(a.texts.values.allSatisfy { $0.contains("Alice Example") && $0.contains("alice@corp.test") }, visible)
            }
        }
    }

    func testDisplayNamesAndSubjectsWithCRLFCannotAddAHeaderOrRecipient() throws {
        let sink = try SMTPSink()
        let inst = try installation(sendingTo: sink, showSubject: true)
        let from = try mailFrom(inst)
        func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
        let date = "Date: Wed, 25 Nov 2026 10:00:00 +0000"

        // A control message: what the notification and the password notice look like.
        try send(inst, message(["From: Alice Control <alice@corp.test>", "To: bob@ext.test", "Subject: Control subject", date,
                                "Message-ID: <control@corp.test>"], ["Hello."]),
                 ["--to", "bob@ext.test", "newc@ext.test", "--password", "bob@ext.test=Bobs-given-pw-1"], name: "control")
        try sweep(inst)
        let control = try assertOutboxArrivedOnce(inst, sink)
        let controlNotification = try XCTUnwrap(control.first { $0.row.kind == "notification" }?.arrival)
        let controlNotice = try XCTUnwrap(control.first { $0.row.kind == "password-notice" }?.arrival)
        XCTAssertEqual(control.count, 3)

        // Hostile originals: CR and LF in the sender's display name and in the subject, raw,
        // folded, and inside RFC 2047 encoded-words (Q and B), CRLF, bare CR and bare LF.
        let hostile: [(String, [String])] = [
            ("qp-crlf", ["From: =?utf-8?q?Mallory=0D=0ABcc:_evil1@attacker.test=0D=0AX-Injected:_1?= <mallory@corp.test>",
                         "Subject: =?utf-8?q?Hello=0D=0ABcc:_evil1s@attacker.test=0D=0AX-Injected:_1s?="]),
            ("b64-crlf", ["From: =?utf-8?b?\(b64("Mallory\r\nTo: evil2@attacker.test\r\nX-Injected: 2"))?= <mallory@corp.test>",
                          "Subject: =?utf-8?b?\(b64("Hi\r\n\r\nX-Injected: 2s\r\nBcc: evil2s@attacker.test"))?="]),
            ("folded", ["From: \"Mallory\r\n Bcc: evil3@attacker.test\" <mallory@corp.test>",
                        "Subject: Hello\r\n Bcc: evil3s@attacker.test\r\n X-Injected: 3s"]),
            ("bare-cr-lf", ["From: =?utf-8?q?Mal=0Dlory=0ACc:_evil4@attacker.test?= <mallory@corp.test>",
                            "Subject: =?utf-8?q?B=0ABcc:_evil4s@attacker.test=0DX-Injected:_4s?="]),
            ("raw-cr", ["From: \"Mal\rBcc: evil5@attacker.test\" <mallory@corp.test>",
                        "Subject: Hello\rBcc: evil5s@attacker.test\rX-Injected: 5s"]),
            ("many-words", ["From: =?utf-8?q?M=0D=0A?= =?utf-8?q?Bcc:_evil6@attacker.test?= =?utf-8?q?=0D=0A?= <mallory@corp.test>",
                            "Subject: =?utf-8?q?=0D=0A?= =?utf-8?q?Reply-To:_evil6s@attacker.test?="]),
        ]
        for (n, (name, headers)) in hostile.enumerated() {
            // Each to a known recipient (a notification) and a new one (a notice to Mallory too).
            // The gateway names the envelope's sender itself (some of these From fields hold
            // more than one address once parsed: an encoded-word is no word of a phrase when
            // it holds a ':').
            try send(inst, message(headers + ["To: bob@ext.test", date, "Message-ID: <\(name)@corp.test>"], ["Hello \(name)."]),
                     ["--to", "bob@ext.test", "new\(n)@ext.test", "--from", "mallory@corp.test"], name: name)
        }
        try sweep(inst)

        let pairs = try assertOutboxArrivedOnce(inst, sink)
        XCTAssertEqual(pairs.count, 3 + 3 * hostile.count, "each hostile message: two notifications and one notice, nothing more")
        let expectedRcpts = Set(["alice@corp.test", "bob@ext.test", "newc@ext.test", "mallory@corp.test"]
                                + hostile.indices.map { "new\($0)@ext.test" })
        for (row, a) in pairs {
            let what = "\(row.kind) to \(a.rcpt) (message \(a.received.index))"
            assertWellFormed(a, mailFrom: from)
            XCTAssertTrue(expectedRcpts.isSuperset(of: a.rcpt), "\(what): no other envelope recipient")
            for field in ["from", "to", "cc", "bcc"] {
                XCTAssertFalse(a.addresses(field).contains { $0.contains("attacker") }, "\(what): no attacker address in \(field)")
            }
            let model = row.kind == "notification" ? controlNotification : controlNotice
            XCTAssertEqual(a.headerNames, model.headerNames, "\(what): the same header fields as the control message")
            XCTAssertEqual(a.tree, model.tree, "\(what): the same MIME structure as the control message")
            for h in a.headers {
                XCTAssertFalse(h.value.contains("\r") || h.value.contains("\n"), "\(what): \(h.name) holds a line break")
                XCTAssertFalse(h.name.lowercased().hasPrefix("x-injected"), "\(what): injected header")
            }
            // Independently of Python: each line of the raw header block starts a field the
            // control message has, or continues one (RFC 5322 folding).
            let allowed = Set(model.headerNames)
            for line in a.rawHeaderBlock.components(separatedBy: "\r\n") {
                if line.hasPrefix(" ") || line.hasPrefix("\t") { continue }
                let field = line.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
                XCTAssertTrue(allowed.contains(field), "\(what): raw header line \(line.debugDescription)")
                XCTAssertFalse(line.contains("\r") || line.contains("\n"), "\(what): a bare CR or LF in \(line.debugDescription)")
            }
        }
        // The hostile text did reach the headers (show_subject is on), as text inside the Subject.
        for n in 1...hostile.count {
            let carrying = pairs.filter { $0.arrival.header("Subject").joined().contains("evil\(n)s@attacker.test") }
            XCTAssertEqual(Set(carrying.map { "\($0.row.kind) \($0.row.to)" }), ["notification bob@ext.test", "notification new\(n - 1)@ext.test"],
                           "the subject of hostile message \(n) is shown, defused, to its two recipients")
        }
        let rcpts = try sink.messages().flatMap(\.recipients)
        XCTAssertFalse(rcpts.contains { $0.contains("attacker") }, "no SMTP recipient at the attacker: \(rcpts)")
        XCTAssertFalse(try outbox(inst).contains { $0.to.contains("attacker") }, "nothing is queued for the attacker")
    }

    // MARK: - A failing MTA

    /// A sendmail stand-in that logs its arguments, reads the message and exits 75 (EX_TEMPFAIL).
    private func failingSendmail(_ inst: TestInstallation) throws -> (path: String, calls: () -> [String]) {
        let log = inst.scratch.file("sendmail-calls.log")
        let path = inst.scratch.file("failing-sendmail.sh")
        let script = """
            #!/bin/sh
            echo "$*" >> \(log)
            cat > /dev/null
            echo "451 4.3.0 relay temporarily unavailable (test MTA)" >&2
            exit 75

            """
        FileManager.default.createFile(atPath: path, contents: Data(script.utf8), attributes: [.posixPermissions: 0o755])
        return (path, {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        })
    }

    func testAFailingMTAIsRetriedWithBackOffAndEverythingArrivesOnceItWorks() throws {
        let sink = try SMTPSink()
        let inst = try installation(sendingTo: nil)
        let from = try mailFrom(inst)
        let mta = try failingSendmail(inst)
        try inst.setConfig("sendmail", "\"\(mta.path)\"")
        try send(inst, message(["From: Alice <alice@corp.test>", "To: bob@ext.test", "Subject: One", "Message-ID: <one@corp.test>"],
                               ["One."]),
                 ["--to", "bob@ext.test", "carol@ext.test", "--password", "carol@ext.test=Carols-pw-123"], name: "m1")
        try send(inst, message(["From: Alice <alice@corp.test>", "To: dave@ext.test", "Subject: Two", "Message-ID: <two@corp.test>"],
                               ["Two."]),
                 ["--to", "dave@ext.test", "--password", "dave@ext.test=Daves-pw-123"], name: "m2")

        // Sweep 1: three attempts fail, then the sweep leaves the rest for the next one.
        let firstSweep = Date()
        try sweep(inst)
        XCTAssertEqual(mta.calls().count, 3, "three failures in a row pause delivery: \(mta.calls())")
        var rows = try outbox(inst)
        XCTAssertEqual(rows.count, 4, "notifications to Bob, Carol, Dave and the notice about Bob to Alice")
        XCTAssertEqual(rows.map(\.attempts).sorted(), [0, 1, 1, 1])
        for row in rows where row.attempts == 1 {
            XCTAssertEqual(row.state, "queued")
            let error = try XCTUnwrap(row.lastError, "row \(row.id) keeps the last error")
            XCTAssertTrue(error.contains("exited 75") && error.contains("relay temporarily unavailable"), error)
            let wait = try XCTUnwrap(row.nextAttempt).timeIntervalSince(firstSweep)
            XCTAssertTrue((55...75).contains(wait), "the first retry waits a minute, not \(wait) s")
        }
        for call in mta.calls() {
            let args = call.split(separator: " ").map(String.init)
            XCTAssertEqual(Array(args.prefix(4)), ["-i", "-f", from, "--"], "sendmail's arguments: \(call)")
            XCTAssertEqual(args.count, 5, call)
            XCTAssertTrue(rows.map(\.to).contains(args.last ?? ""), call)
        }
        var status = try outboxStatus(inst)
        XCTAssertEqual(status["queued"] as? Int, 4, "status shows the backlog")
        XCTAssertEqual(status["sent"] as? Int, 0)
        XCTAssertEqual(status["failed"] as? Int, 0)
        XCTAssertNotNil(status["oldest_queued"] as? String)
        let statusLines = try statusText(inst)
        XCTAssertTrue(statusLines.contains("outbox: 4 queued, 0 sent, 0 failed"), statusLines)
        let listing = try outboxText(inst)
        XCTAssertEqual(listing.components(separatedBy: "last error: mail.sendmail exited 75").count - 1, 3, listing)
        XCTAssertTrue(listing.contains("relay temporarily unavailable"), listing)

        // Sweep 2 at once: only the mail not tried yet is due; the others wait their back-off.
        try sweep(inst)
        XCTAssertEqual(mta.calls().count, 4)
        rows = try outbox(inst)
        XCTAssertEqual(rows.map(\.attempts), [1, 1, 1, 1], "each tried once")
        // Sweep 3 at once: nothing is due.
        try sweep(inst)
        XCTAssertEqual(mta.calls().count, 4, "a sweep during the back-off does not retry")
        XCTAssertEqual(try outboxStatus(inst)["queued"] as? Int, 4)

        // An administrator's retry makes one due now; its second failure waits two minutes.
        let retried = rows[0]
        let said = try Shell.check(Paths.spoolrun, ["outbox", "retry", "--config", inst.config, String(retried.id.prefix(8))]).out
        XCTAssertTrue(said.contains("queued again"), said)
        let fourthSweep = Date()
        try sweep(inst)
        XCTAssertEqual(mta.calls().count, 5, "only the retried mail was tried")
        let again = try XCTUnwrap(try outbox(inst).first { $0.id == retried.id })
        XCTAssertEqual(again.attempts, 2)
        let wait = try XCTUnwrap(again.nextAttempt).timeIntervalSince(fourthSweep)
        XCTAssertTrue((115...135).contains(wait), "the second retry waits two minutes, not \(wait) s")

        // The MTA works again: the back-off still holds until the administrator retries.
        try inst.setConfig("sendmail", "\"\(sink.sendmailCommand)\"")
        try sweep(inst)
        XCTAssertEqual(try sink.messages().count, 0, "nothing was due")
        for row in try outbox(inst) {
            try Shell.check(Paths.spoolrun, ["outbox", "retry", "--config", inst.config, row.id])
        }
        try sweep(inst)
        let pairs = try assertOutboxArrivedOnce(inst, sink)
        XCTAssertEqual(pairs.count, 4)
        for (_, a) in pairs { assertWellFormed(a, mailFrom: from) }
        status = try outboxStatus(inst)
        XCTAssertEqual(status["queued"] as? Int, 0)
        XCTAssertEqual(status["sent"] as? Int, 4)
        XCTAssertEqual(status["failed"] as? Int, 0)
        try sweep(inst)
        XCTAssertEqual(try sink.messages().count, 4, "each mail arrived exactly once")
        XCTAssertEqual(mta.calls().count, 5, "the failing command is not run any more")
    }

    func testAHangingSendmailIsKilledAfterTheTimeoutAndCountsAsAFailure() throws {
        let inst = try installation(sendingTo: nil)
        let pids = inst.scratch.file("hanging.pids")
        let path = inst.scratch.file("hanging-sendmail.sh")
        let fds = inst.scratch.file("hanging.fds")
        // It ignores SIGTERM (so only the group's SIGKILL ends it) and starts a child that sleeps too.
        let script = """
            #!/bin/sh
            trap '' TERM
            echo $$ >> \(pids)
            ls -l /proc/$$/fd > \(fds) 2>&1
            sleep 3600 &
            echo $! >> \(pids)
            sleep 3600

            """
        FileManager.default.createFile(atPath: path, contents: Data(script.utf8), attributes: [.posixPermissions: 0o755])
        try inst.setConfig("sendmail", "\"\(path)\"")
        try inst.setConfig("timeout", "\"2s\"")
        func started() -> [pid_t] {
            ((try? String(contentsOfFile: pids, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0) }
        }
        defer {
            // Whatever is still running of it (only if this test failed): ended by pid.
            for pid in started() where Self.isRunning(pid, path: path) { kill(pid, SIGKILL) }
        }
        try send(inst, message(["From: Alice <alice@corp.test>", "To: bob@ext.test", "Subject: Hang", "Message-ID: <hang@corp.test>"],
                               ["Hang."]),
                 ["--to", "bob@ext.test", "--password", "bob@ext.test=Bobs-pw-12345"], name: "m1")

        let began = Date()
        let run = try inst.sweep(timeout: 60)
        let took = Date().timeIntervalSince(began)
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertGreaterThanOrEqual(took, 2, "the command had its 2 s")
        XCTAssertLessThan(took, 15, "the sweep ends soon after the timeout (it took \(took) s)")

        let launched = started()
        XCTAssertEqual(launched.count, 2, "the script and its child ran: \(launched)")
        let deadline = Date().addingTimeInterval(5)
        while launched.contains(where: { Self.isRunning($0, path: path) }) && Date() < deadline { usleep(50_000) }
        for pid in launched {
            XCTAssertFalse(Self.isRunning(pid, path: path), "process \(pid) of the hanging command is gone")
        }

        let rows = try outbox(inst)
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.first?.state, "queued", "a timeout is a failure to retry")
        XCTAssertEqual(rows.first?.attempts, 1)
        let error = rows.first?.lastError ?? ""
        XCTAssertTrue(error.contains("timed out"), "the error says it timed out: \(error)")
        XCTAssertEqual(try outboxStatus(inst)["queued"] as? Int, 1)
        XCTAssertTrue(try outboxText(inst).contains("timed out"))

        // The command inherited nothing of the installation: no descriptor of the sweep lock,
        // the state store, the spool or the keys (it could hold the lock past a killed sweep).
        let open = try String(contentsOfFile: fds, encoding: .utf8)
        XCTAssertTrue(open.contains("pipe:"), "the listing worked: \(open)")
        XCTAssertFalse(open.contains(inst.root), "the mail command holds none of the installation's files open:\n\(open)")

        // The next sweep at once leaves it to its back-off: the command is not started again.
        try sweep(inst)
        XCTAssertEqual(started().count, 2)
    }

    /// Whether `pid` is a live (not zombie) process running the hanging script or its sleep.
    private static func isRunning(_ pid: pid_t, path: String) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // The state follows the parenthesised command name.
        guard let close = stat.range(of: ") ", options: .backwards) else { return false }
        let state = stat[close.upperBound...].first
        if state == "Z" || state == "X" { return false }
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        let args = String(decoding: cmdline, as: UTF8.self).replacingOccurrences(of: "\0", with: " ")
        return args.contains(path) || args.contains("sleep 3600")
    }

    // MARK: - Give-up

    /// mail.give_up_after is at least 60 s. Rather than wait that long, the test moves the
    /// queued row's timestamps back by two minutes in the state store (as if it had waited):
    /// the binary then judges it as it would after real time. The schedule itself, on the
    /// sweep's clock, is in SpoolTests/DeliverStageTests.
    private func age(_ inst: TestInstallation, seconds: Int) throws {
        let db = inst.root.appending(path: "state/spoolrun.sqlite")
        let script = """
            import sqlite3, sys, datetime
            con = sqlite3.connect(sys.argv[1])
            fmt = "%Y-%m-%d %H:%M:%S.%f"
            shift = datetime.timedelta(seconds=int(sys.argv[2]))
            rows = con.execute("SELECT uid, created_at FROM outbox WHERE state = 'queued'").fetchall()
            for uid, created in rows:
                older = (datetime.datetime.strptime(created, fmt) - shift).strftime(fmt)[:-3]
                con.execute("UPDATE outbox SET created_at = ?, next_attempt_at = ? WHERE uid = ?", (older, older, uid))
            con.commit()
            print(len(rows))
            """
        let r = try Shell.check("python3", ["-c", script, db, "\(seconds)"])
        XCTAssertEqual(r.out.trimmingCharacters(in: .whitespacesAndNewlines), "1", "one queued row aged")
    }

    func testMailIsMarkedFailedAfterGiveUpAfterAndKeptAndShown() throws {
        let sink = try SMTPSink()
        let inst = try installation(sendingTo: nil)
        let from = try mailFrom(inst)
        let mta = try failingSendmail(inst)
        try inst.setConfig("sendmail", "\"\(mta.path)\"")
        try inst.setConfig("give_up_after", "\"60s\"")
        try send(inst, message(["From: Alice <alice@corp.test>", "To: bob@ext.test", "Subject: Late", "Message-ID: <late@corp.test>"],
                               ["Late."]),
                 ["--to", "bob@ext.test", "--password", "bob@ext.test=Bobs-pw-12345"], name: "m1")
        try sweep(inst)
        var rows = try outbox(inst)
        XCTAssertEqual(rows.map(\.state), ["queued"], "within give_up_after a failure is retried later")

        try age(inst, seconds: 120)
        try sweep(inst)
        XCTAssertEqual(mta.calls().count, 2)
        rows = try outbox(inst)
        XCTAssertEqual(rows.map(\.state), ["failed"], "two minutes after queueing, with give_up_after = 60 s, it is given up")
        XCTAssertEqual(rows.first?.attempts, 2)
        XCTAssertTrue(rows.first?.lastError?.contains("exited 75") == true)
        let status = try outboxStatus(inst)
        XCTAssertEqual(status["failed"] as? Int, 1, "status counts it")
        XCTAssertEqual(status["queued"] as? Int, 0)
        let text = try statusText(inst)
        XCTAssertTrue(text.contains("outbox: 0 queued, 0 sent, 1 failed"), text)
        XCTAssertTrue(text.contains("outbox retry"), "status says what to do: \(text)")
        let id = try XCTUnwrap(rows.first?.id)
        let shown = try Shell.check(Paths.spoolrun, ["outbox", "show", "--config", inst.config, id]).out
        XCTAssertTrue(shown.contains("state: failed") && shown.contains("exited 75"), shown)
        XCTAssertTrue(try outboxText(inst).contains("failed"))

        // Kept: later sweeps leave it alone; the run still succeeds.
        try sweep(inst)
        XCTAssertEqual(mta.calls().count, 2, "a failed mail is not retried by itself")

        // The administrator fixes the MTA and retries: it is queued, then sent once.
        try inst.setConfig("sendmail", "\"\(sink.sendmailCommand)\"")
        let said = try Shell.check(Paths.spoolrun, ["outbox", "retry", "--config", inst.config, id]).out
        XCTAssertTrue(said.contains("queued again"), said)
        XCTAssertEqual(try outboxStatus(inst)["queued"] as? Int, 1)
        XCTAssertEqual(try outboxStatus(inst)["failed"] as? Int, 0)
        try sweep(inst)
        let pairs = try assertOutboxArrivedOnce(inst, sink)
        XCTAssertEqual(pairs.count, 1)
        for (_, a) in pairs { assertWellFormed(a, mailFrom: from) }
        XCTAssertEqual(try outboxStatus(inst)["sent"] as? Int, 1)
    }
}
