// `spoolrun gateway filter` in-process (issue 7), with a real sendmail-compatible command: a
// shell script that keeps each call's arguments and message and exits as a control file says.
// Each test is named for the rule it proves: what passed-through recipients get, that a
// webmail recipient is only ever in a tunnel part (even when sendmail fails), that a retry
// sends only the missing part, what the portal finds inside the tunnel, what is refused, the
// loop guard, the address lists and the OTP and read-receipt routes.
import Crypto
import Foundation
import Mail
@testable import Spool
import TestSupport
import XCTest
@testable import Tunnel

/// A sendmail stand-in run as a real program: `SCRIPT -i -f FROM -- RCPT...` with the message
/// on stdin. Each call is kept in calls/N (argv one per line, stdin, status); the exit status
/// comes from the file `control`: missing or empty 0, "N" always N, "N ADDRESS" N only when
/// ADDRESS is among the recipients after "--", else 0.
final class GatewayRecordingSendmail {
    struct Call {
        var number: Int
        var options: [String]
        var from: String?
        var recipients: [String]
        var message: [UInt8]
        var status: Int32
    }

    let root: String
    var script: String { root.appending(path: "sendmail.sh") }
    var callsDirectory: String { root.appending(path: "calls") }
    var control: String { root.appending(path: "control") }

    static let text = """
        #!/bin/sh
        here=$(dirname "$0")
        n=1
        while [ "$n" -le 500 ]; do
            if mkdir "$here/calls/$n" 2>/dev/null; then break; fi
            n=$((n + 1))
        done
        [ "$n" -le 500 ] || { echo "too many calls" >&2; exit 70; }
        out="$here/calls/$n"
        for a in "$@"; do printf '%s\\n' "$a"; done > "$out/argv"
        cat > "$out/stdin"
        status=0
        if [ -s "$here/control" ]; then
            code=""; address=""
            read -r code address < "$here/control" || true
            if [ -z "$address" ]; then
                status=$code
            else
                after=0
                for a in "$@"; do
                    if [ "$after" = 1 ] && [ "$a" = "$address" ]; then status=$code; fi
                    if [ "$a" = "--" ]; then after=1; fi
                done
            fi
        fi
        printf '%s\\n' "$status" > "$out/status"
        echo "sendmail stand-in: call $n exits $status" >&2
        exit "$status"

        """

    init(in root: String) throws {
        self.root = root
        try FileManager.default.createDirectory(atPath: root.appending(path: "calls"), withIntermediateDirectories: true)
        try Self.text.write(toFile: script, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(script, 0o755), 0)
    }

    /// Every later call exits `status` (0: succeed), or only those to `recipient`.
    func exitWith(_ status: Int32, whenRecipient recipient: String? = nil) throws {
        try "\(status)\(recipient.map { " \($0)" } ?? "")\n".write(toFile: control, atomically: true, encoding: .utf8)
    }

    func calls() throws -> [Call] {
        let names = try FileManager.default.contentsOfDirectory(atPath: callsDirectory).compactMap(Int.init).sorted()
        return try names.map { n in
            let dir = callsDirectory.appending(path: String(n))
            var argv = try String(contentsOfFile: dir.appending(path: "argv"), encoding: .utf8)
                .components(separatedBy: "\n")
            if argv.last == "" { argv.removeLast() }
            let dash = argv.firstIndex(of: "--") ?? argv.count
            let options: [String] = Array(argv[..<dash])
            var from: String?
            if let f = options.firstIndex(of: "-f"), f + 1 < options.count { from = options[f + 1] }
            let recipients = dash < argv.count ? Array(argv[(dash + 1)...]) : []
            let message = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.appending(path: "stdin"))))
            let status = Int32(try String(contentsOfFile: dir.appending(path: "status"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            return Call(number: n, options: options, from: from, recipients: recipients, message: message, status: status)
        }
    }
}

extension [UInt8] {
    fileprivate func contains(_ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if self[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}

final class GatewayFilterTests: XCTestCase {
    static let tunnelAddress = "webmail@portal.example"
    static let tunnelSender = "webmail-sender@gateway.example"
    static let alice = "alice@corp.example"
    static let bodyMarker = "MARKER-BODY-5T2"

    var dir: TemporaryDirectory!
    var inst: Installation!
    var sendmail: GatewayRecordingSendmail!
    var setupText = ""

    override func setUpWithError() throws {
        dir = try TemporaryDirectory("spoolrun-gwfilter")
        var options = SetupOptions(directory: dir.file("inst"))
        options.recipientAddress = Self.tunnelAddress
        options.senderAddress = Self.tunnelSender
        inst = try Setup.run(options)
        setupText = try String(contentsOfFile: inst.gatewayConfig, encoding: .utf8)
        sendmail = try GatewayRecordingSendmail(in: dir.file("sendmail"))
    }

    /// gateway.toml as setup wrote it with the sendmail stand-in, these `key = value` lines
    /// replaced, and the address lists written (and switched on) when given; then the filter.
    func makeFilter(_ settings: [String: String] = [:], direct: String? = nil, otp: String? = nil) throws -> GatewayFilter {
        var text = setupText
        func set(_ key: String, _ value: String) {
            var lines = text.components(separatedBy: "\n")
            guard let i = lines.firstIndex(where: { $0.hasPrefix("\(key) =") || $0.hasPrefix("# \(key) =") }) else {
                return XCTFail("setup's gateway.toml has no \(key) line")
            }
            lines[i] = "\(key) = \(value)"
            text = lines.joined(separator: "\n")
        }
        set("sendmail", "\"\(sendmail.script)\"")
        if let direct {
            try direct.write(toFile: inst.gateway.appending(path: "direct-recipients.txt"), atomically: true, encoding: .utf8)
            set("direct_recipients", "\"direct-recipients.txt\"")
        }
        if let otp {
            try otp.write(toFile: inst.gateway.appending(path: "otp-recipients.txt"), atomically: true, encoding: .utf8)
            set("otp_recipients", "\"otp-recipients.txt\"")
        }
        // These tests start from "every message may go to webmail" (setup's default is
        // only_if_mandatory = true); the ones about it set it themselves.
        var settings = settings
        if settings["only_if_mandatory"] == nil { settings["only_if_mandatory"] = "false" }
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { set(key, value) }
        try text.write(toFile: inst.gatewayConfig, atomically: true, encoding: .utf8)
        let config = try GatewayConfig.load(path: inst.gatewayConfig)
        XCTAssertEqual(config.sendmail, sendmail.script)
        return try GatewayFilter(config: config)
    }

    func message(subject: String = "Quarterly figures", extraHeaders: String = "", lineEnding eol: String = "\r\n") -> [UInt8] {
        Array("""
            Received: from mx.corp.example by gw.corp.example;\(eol)\tWed, 25 Nov 2026 10:00:01 +0000\(eol)\
            From: Alice Example <alice@corp.example>\(eol)\
            To: Bob <bob@ext.example>, carol@direct.example\(eol)\
            Subject: \(subject)\(eol)\
            Date: Wed, 25 Nov 2026 10:00:00 +0000\(eol)\
            Message-ID: <gw-test@corp.example>\(eol)\
            \(extraHeaders)\
            MIME-Version: 1.0\(eol)\
            Content-Type: text/plain; charset=utf-8\(eol)\
            Content-Transfer-Encoding: 8bit\(eol)\
            \(eol)\
            \(Self.bodyMarker) the figures, Grüße.\(eol)\
            Subject: not a header field\(eol)
            """.utf8)
    }

    /// Each recipient's part label, from `plan`.
    func labels(_ filter: GatewayFilter, _ recipients: [String], _ message: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        for part in filter.plan(message: message, recipients: recipients) {
            for r in part.recipients {
                XCTAssertNil(out[r], "\(r) is in one part only")
                out[r] = part.label
            }
        }
        return out
    }

    /// Opens a tunnel message as the portal does, with the installation's keys.
    func open(_ tunnel: [UInt8]) throws -> AcceptedTunnel {
        let config = try SpoolrunConfig.load(path: inst.config)
        let intake = Intake(config: config, opener: try KeyFiles.tunnelOpener(for: config))
        switch intake.check(tunnel, now: Date()) {
        case .success(let accepted): return accepted
        case .failure(let rejection): throw rejection
        }
    }

    func isTunnel(_ call: GatewayRecordingSendmail.Call) -> Bool {
        call.from == Self.tunnelSender && call.recipients == [Self.tunnelAddress]
    }

    func assertAccepted(_ result: GatewayFilterResult, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result, .accepted(warnings: []), file: file, line: line)
        XCTAssertEqual(result.exitStatus, 0, file: file, line: line)
    }

    // MARK: - Pass-through

    func testPassedThroughRecipientsGetTheOriginalByteForByteWithOnlyTheTraceFieldInFrontAndTheirEnvelopeSenderUnchanged() throws {
        let filter = try makeFilter(direct: "carol@direct.example\n@partner.example\n")
        let original = message(subject: "[secure] Quarterly figures")
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let sender = "Alice.Example+Tag@Corp.Example"
        assertAccepted(filter.run(message: original, sender: sender, recipients: ["Carol@Direct.Example", "dan@partner.example"], now: now))

        let calls = try sendmail.calls()
        XCTAssertEqual(calls.count, 1, "one copy for every passed-through recipient")
        let call = try XCTUnwrap(calls.first)
        XCTAssertEqual(call.from, sender, "the envelope sender is handed on as it came")
        XCTAssertEqual(call.recipients, ["Carol@Direct.Example", "dan@partner.example"])
        XCTAssertEqual(call.options.first, "-i", "sendmail is run as SENDMAIL -i -f FROM -- RCPT")
        XCTAssertEqual(call.status, 0)
        let trace = Array("X-Spoolrun-Gateway: pass-through; \(UTCTime.rfc5322(now))\r\n".utf8)
        XCTAssertEqual(Array(call.message.prefix(trace.count)), trace, String(decoding: call.message.prefix(120), as: UTF8.self))
        XCTAssertEqual(Array(call.message.dropFirst(trace.count)), original,
                       "after the trace field the original follows byte for byte, its subject tag included")
        XCTAssertEqual(HeaderBlock(call.message).fields.first?.name, GatewayFilter.traceField)
    }

    // MARK: - Webmail recipients never in plaintext

    func testWebmailRoutedRecipientsOnlyEverAppearInATunnelPartFromTheWebmailSenderToTheWebmailRecipient() throws {
        let filter = try makeFilter(direct: "carol@direct.example\n")
        let original = message()
        assertAccepted(filter.run(message: original, sender: Self.alice, recipients: ["bob@ext.example", "carol@direct.example"]))

        let calls = try sendmail.calls()
        XCTAssertEqual(calls.count, 2)
        let tunnels = calls.filter(isTunnel)
        XCTAssertEqual(tunnels.count, 1, "one tunnel part: \(calls.map { ($0.from ?? "-", $0.recipients) })")
        XCTAssertEqual(calls.first.map(isTunnel), true, "the tunnel part goes first")
        for call in calls {
            XCTAssertFalse(call.recipients.map(EmailAddress.normalize).contains("bob@ext.example"),
                           "bob is a webmail recipient: never an SMTP recipient (call \(call.number))")
        }
        let tunnel = try XCTUnwrap(tunnels.first).message
        XCTAssertFalse(tunnel.contains(Self.bodyMarker), "the body is not in the tunnel bytes in clear")
        XCTAssertFalse(tunnel.contains("Quarterly figures"), "nor the subject")
        XCTAssertFalse(tunnel.contains("bob@ext.example"), "nor the webmail recipient's address")
        XCTAssertEqual(HeaderBlock(tunnel).decodedValue("From"), Self.tunnelSender)
        XCTAssertEqual(HeaderBlock(tunnel).decodedValue("To"), Self.tunnelAddress)
        let plain = try XCTUnwrap(calls.first { !isTunnel($0) })
        XCTAssertEqual(plain.recipients, ["carol@direct.example"])
        XCTAssertTrue(plain.message.contains(Self.bodyMarker), "the direct recipient's copy is the original")
    }

    func testWithSendmailFailingTheResultIsDeferredAndNoCallEverHadAWebmailRecipientAsAnSMTPRecipient() throws {
        let filter = try makeFilter(direct: "carol@direct.example\n")
        try sendmail.exitWith(75)
        let result = filter.run(message: message(), sender: Self.alice,
                                recipients: ["bob@ext.example", "carol@direct.example", "Olga@Ext.Example"])
        guard case .deferred(let why) = result else { return XCTFail("expected .deferred, got \(result)") }
        XCTAssertEqual(result.exitStatus, 75)
        XCTAssertTrue(why.contains("exited 75"), why)

        let calls = try sendmail.calls()
        XCTAssertEqual(calls.count, 2, "both parts were tried: \(calls.map(\.recipients))")
        XCTAssertTrue(calls.allSatisfy { $0.status == 75 })
        for call in calls {
            let rcpts = call.recipients.map(EmailAddress.normalize)
            XCTAssertFalse(rcpts.contains("bob@ext.example") || rcpts.contains("olga@ext.example"),
                           "a failed tunnel part never falls back to plaintext: call \(call.number) to \(call.recipients)")
            XCTAssertFalse(!isTunnel(call) && call.from == Self.tunnelSender)
        }
        XCTAssertEqual(calls.filter(isTunnel).count, 1)

        // Failing again changes nothing: still no webmail recipient outside the tunnel.
        let again = filter.run(message: message(), sender: Self.alice, recipients: ["bob@ext.example", "carol@direct.example", "Olga@Ext.Example"])
        XCTAssertEqual(again.exitStatus, 75)
        let all = try sendmail.calls()
        XCTAssertEqual(all.count, 4, "nothing was recorded as sent, so both parts are tried again")
        XCTAssertTrue(all.allSatisfy { isTunnel($0) || $0.recipients == ["carol@direct.example"] })
    }

    // MARK: - Retries

    func testARetryAfterAFailedPartSendsOnlyTheMissingPartAndEachPartGoesOutExactlyOnce() throws {
        let filter = try makeFilter(direct: "carol@direct.example\n")
        let original = message(subject: "[secure] retry")
        let recipients = ["bob@ext.example", "carol@direct.example"]
        try sendmail.exitWith(75, whenRecipient: Self.tunnelAddress)
        let first = filter.run(message: original, sender: Self.alice, recipients: recipients)
        guard case .deferred(let why) = first else { return XCTFail("expected .deferred, got \(first)") }
        XCTAssertTrue(why.contains("tunnel webmail"), "the message names the part that failed: \(why)")
        XCTAssertFalse(why.contains("pass-through part"), why)
        var calls = try sendmail.calls()
        XCTAssertEqual(calls.map { isTunnel($0) ? "tunnel" : "plain" }, ["tunnel", "plain"])
        XCTAssertEqual(calls.map(\.status), [75, 0])

        try sendmail.exitWith(0)
        assertAccepted(filter.run(message: original, sender: Self.alice, recipients: recipients))
        calls = try sendmail.calls()
        XCTAssertEqual(calls.count, 3, "the retry sends the tunnel part only: \(calls.map(\.recipients))")
        XCTAssertTrue(calls.last.map(isTunnel) ?? false)
        let delivered = calls.filter { $0.status == 0 }
        XCTAssertEqual(delivered.filter(isTunnel).count, 1, "the tunnel part went out exactly once")
        XCTAssertEqual(delivered.filter { $0.recipients == ["carol@direct.example"] }.count, 1, "the passed-through copy exactly once")
        XCTAssertEqual(try open(try XCTUnwrap(calls.last).message).envelope.recipients, ["bob@ext.example"])

        // A third delivery attempt of the same message sends nothing at all.
        assertAccepted(filter.run(message: original, sender: Self.alice, recipients: recipients))
        XCTAssertEqual(try sendmail.calls().count, 3)
        // The journal holds digests only: no address, no subject, no content.
        let journal = filter.config.journal
        let entries = try FileManager.default.contentsOfDirectory(atPath: journal)
        XCTAssertEqual(entries.count, 2)
        for name in entries {
            XCTAssertEqual(name.count, 64)
            let text = try String(contentsOfFile: journal.appending(path: name), encoding: .utf8)
            XCTAssertFalse(text.contains("@") || text.contains("retry"), text)
        }
    }

    func testTheJournalForgetsAPartAfterTwoWeeksAndKeepsEverythingElse() throws {
        let dir = try TemporaryDirectory()
        let journal = try GatewayJournal(directory: dir.file("journal"))
        let key = GatewayJournal.key(route: "pass-through", sender: Self.alice, recipients: ["b@x.example", "a@x.example"], original: [1, 2, 3])
        XCTAssertEqual(key, GatewayJournal.key(route: "pass-through", sender: Self.alice, recipients: ["a@x.example", "b@x.example"], original: [1, 2, 3]),
                       "the recipients' order does not matter")
        for other in [GatewayJournal.key(route: "tunnel webmail", sender: Self.alice, recipients: ["a@x.example", "b@x.example"], original: [1, 2, 3]),
                      GatewayJournal.key(route: "pass-through", sender: "", recipients: ["a@x.example", "b@x.example"], original: [1, 2, 3]),
                      GatewayJournal.key(route: "pass-through", sender: Self.alice, recipients: ["a@x.example"], original: [1, 2, 3]),
                      GatewayJournal.key(route: "pass-through", sender: Self.alice, recipients: ["a@x.example", "b@x.example"], original: [1, 2, 4])] {
            XCTAssertNotEqual(key, other)
        }
        try journal.record(key)
        try "not a key\n".write(toFile: dir.file("journal/README"), atomically: true, encoding: .utf8)
        journal.prune(now: Date().addingTimeInterval(13 * 86_400))
        XCTAssertTrue(journal.contains(key), "kept for as long as Postfix may retry")
        journal.prune(now: Date().addingTimeInterval(GatewayJournal.keepFor + 3_600))
        XCTAssertFalse(journal.contains(key), "forgotten after keepFor")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("journal/README")), "only entries are pruned")
    }

    // MARK: - What the portal finds

    func testTheTunnelMessageOpensWithThePortalsKeysAndHoldsTheOriginalWithOnlyTheSubjectTagRemoved() throws {
        let filter = try makeFilter(direct: "carol@direct.example\n")
        let original = message(subject: "[secure] Quarterly figures")
        assertAccepted(filter.run(message: original, sender: Self.alice, recipients: ["Bob@Ext.Example", "carol@direct.example", "olga@ext.example"]))
        let calls = try sendmail.calls()
        let tunnel = try XCTUnwrap(calls.first(where: isTunnel))
        let accepted = try open(tunnel.message)
        XCTAssertEqual(accepted.envelope.sender, Self.alice)
        XCTAssertEqual(accepted.envelope.recipients, ["bob@ext.example", "olga@ext.example"])
        XCTAssertEqual(accepted.envelope.delivery, .webmail)
        XCTAssertFalse(accepted.envelope.readReceipt)
        XCTAssertTrue(accepted.envelope.id.hasPrefix("gw-"), accepted.envelope.id)
        let expected = Array(String(decoding: original, as: UTF8.self)
            .replacingOccurrences(of: "Subject: [secure] Quarterly figures\r\n", with: "Subject: Quarterly figures\r\n").utf8)
        XCTAssertNotEqual(expected, original)
        XCTAssertEqual(accepted.original, expected, "every byte but the subject's tag is the original's:\n\(String(decoding: accepted.original, as: UTF8.self))")
        // The passed-through copy keeps the tag: it is removed from the wrapped original only.
        let plain = try XCTUnwrap(calls.first { !isTunnel($0) })
        XCTAssertEqual(HeaderBlock(plain.message).decodedValue("Subject"), "[secure] Quarterly figures")
    }

    func testAnEncodedSubjectTagInAnLFMessageIsRemovedAndTheRestOfTheOriginalIsUnchanged() throws {
        let filter = try makeFilter()
        let encoded = "=?utf-8?q?=5BSECURE=5D_Vertrag_Gr=C3=BC=C3=9Fe?="
        let original = message(subject: encoded, lineEnding: "\n")
        assertAccepted(filter.run(message: original, sender: Self.alice, recipients: ["bob@ext.example"]))
        let calls = try sendmail.calls()
        XCTAssertEqual(calls.count, 1)
        let inside = try open(try XCTUnwrap(calls.first(where: isTunnel)).message).original
        let text = String(decoding: original, as: UTF8.self)
        let field = "Subject: \(encoded)\n"
        let range = try XCTUnwrap(text.range(of: field))
        let before = Array(text[..<range.lowerBound].utf8), after = Array(text[range.upperBound...].utf8)
        XCTAssertEqual(Array(inside.prefix(before.count)), before)
        XCTAssertEqual(Array(inside.suffix(after.count)), after)
        XCTAssertEqual(HeaderBlock(inside).decodedValue("Subject"), "Vertrag Grüße")
        XCTAssertEqual(try MessageParser.parse(inside).subject, "Vertrag Grüße")
        XCTAssertFalse(inside.contains("\r"), "the LF message stays LF")
    }

    func testALongNonASCIISubjectReachesThePortalWholeAfterTheTagIsRemoved() throws {
        let filter = try makeFilter()
        let shown = "Квартальный отчёт за третий квартал и планы на следующий год"
        let original = message(subject: "[secure] \(shown)")  // 8-bit UTF-8 in the header (RFC 6532)
        XCTAssertEqual(HeaderBlock(original).decodedValue("Subject"), "[secure] \(shown)")
        assertAccepted(filter.run(message: original, sender: Self.alice, recipients: ["bob@ext.example"]))
        let inside = try open(try XCTUnwrap(try sendmail.calls().first(where: isTunnel)).message).original
        XCTAssertEqual(HeaderBlock(inside).decodedValue("Subject"), shown,
                       "the subject the gateway wrote: \(HeaderBlock(inside).fields.first { $0.name == "Subject" }?.rawValue ?? "none")")
        XCTAssertEqual(try MessageParser.parse(inside).subject, shown, "the subject the portal shows")
    }

    func testASubjectTagInTheSecondOfTwoBase64EncodedWordsMakesEncryptionMandatory() throws {
        // only_if_mandatory: a message passes through in plaintext unless the tag is seen.
        let filter = try makeFilter(["only_if_mandatory": "true"])
        func word(_ text: String) -> String { "=?UTF-8?B?\(Data(text.utf8).base64EncodedString())?=" }
        let subject = word("Привет!") + "\r\n " + word(" [secure] Отчёт")
        XCTAssertEqual(labels(filter, ["bob@ext.example"], message(subject: "Отчёт")), ["bob@ext.example": "pass-through"])
        let tagged = message(subject: subject)
        XCTAssertEqual(HeaderBlock(tagged).decodedValue("Subject"), "Привет! [secure] Отчёт")
        XCTAssertEqual(labels(filter, ["bob@ext.example"], tagged), ["bob@ext.example": "tunnel webmail"],
                       "the tag is in the subject a reader sees, so bob must not get the message in plaintext")
    }

    // MARK: - Refusals

    func testAMessageFromTheNullSenderToAWebmailRecipientIsRefusedAndNothingIsSent() throws {
        let filter = try makeFilter(direct: "carol@direct.example\n")
        for recipients in [["bob@ext.example"], ["carol@direct.example", "bob@ext.example"]] {
            let result = filter.run(message: message(), sender: "", recipients: recipients)
            guard case .refused(let why) = result else { return XCTFail("expected .refused, got \(result)") }
            XCTAssertEqual(result.exitStatus, 65)
            XCTAssertTrue(why.contains("null sender") && why.contains("bob@ext.example"), why)
        }
        XCTAssertEqual(try sendmail.calls().count, 0, "nothing was sent, not even the direct recipient's copy")
    }

    func testAnEmptyMessageAndAnInvalidSenderOrRecipientForWebmailAreRefusedAndNothingIsSent() throws {
        let filter = try makeFilter()
        let cases: [([UInt8], String, [String])] = [([UInt8](), Self.alice, ["bob@ext.example"]),
                                            (message(), "not an address", ["bob@ext.example"]),
                                            (message(), Self.alice, ["bob@ext.example", "bad address@ext.example"])]
        for (bytes, sender, recipients) in cases {
            let result = filter.run(message: bytes, sender: sender, recipients: recipients)
            guard case .refused = result else { XCTFail("expected .refused for \(sender) \(recipients) \(bytes.count) bytes, got \(result)"); continue }
            XCTAssertEqual(result.exitStatus, 65)
        }
        XCTAssertEqual(try sendmail.calls().count, 0)
    }

    func testNoRecipientsIsAMistakeInMasterCfAndDefersTheMessage() throws {
        let result = try makeFilter().run(message: message(), sender: Self.alice, recipients: [])
        guard case .deferred(let why) = result else { return XCTFail("expected .deferred, got \(result)") }
        XCTAssertEqual(result.exitStatus, 75)
        XCTAssertTrue(why.contains("${recipient}"), why)
        XCTAssertEqual(try sendmail.calls().count, 0)
    }

    func testAMessageFromTheNullSenderGoesToWebmailInThePostmastersNameWhenOneIsSet() throws {
        let filter = try makeFilter(["postmaster": "\"postmaster@corp.example\""])
        assertAccepted(filter.run(message: message(), sender: "", recipients: ["bob@ext.example"]))
        let calls = try sendmail.calls()
        XCTAssertEqual(calls.count, 1)
        let tunnel = try XCTUnwrap(calls.first(where: isTunnel), "the report goes through the tunnel, never in clear")
        let accepted = try open(tunnel.message)
        XCTAssertEqual(accepted.envelope.sender, "postmaster@corp.example", "the postmaster gets the password notice")
        XCTAssertEqual(accepted.envelope.recipients, ["bob@ext.example"])
    }

    func testMoreThanAHundredWebmailRecipientsMakeSeveralTunnelMessagesOfAtMostAHundredEach() throws {
        let filter = try makeFilter()
        let recipients = (1...250).map { "r\($0)@ext.example" }
        let parts = filter.plan(message: message(), recipients: recipients + ["r1@ext.example"])
        XCTAssertEqual(parts.map(\.recipients.count), [100, 100, 50], "a tunnel envelope names 1 to 100 recipients")
        XCTAssertEqual(parts.flatMap(\.recipients), recipients, "each recipient once, in order")
        assertAccepted(filter.run(message: message(), sender: Self.alice, recipients: recipients))
        let tunnels = try sendmail.calls().filter(isTunnel)
        XCTAssertEqual(tunnels.count, 3)
        var delivered: [String] = []
        for t in tunnels { delivered += try open(t.message).envelope.recipients }
        XCTAssertEqual(delivered.sorted(), recipients.sorted(), "the portal accepts each part and every recipient is in one")
    }

    // MARK: - Loop guard

    func testARecipientEqualToTheWebmailRecipientIsPassedThroughNeverWrapped() throws {
        // Even when every message must be encrypted.
        let filter = try makeFilter(["mandatory": "\"always\""])
        let tunnelLike = message(subject: "[secure] came back")
        XCTAssertEqual(labels(filter, ["WebMail@Portal.Example", "bob@ext.example"], tunnelLike),
                       ["WebMail@Portal.Example": "pass-through", "bob@ext.example": "tunnel webmail"])

        assertAccepted(filter.run(message: tunnelLike, sender: Self.tunnelSender, recipients: ["WebMail@Portal.Example"]))
        let calls = try sendmail.calls()
        XCTAssertEqual(calls.count, 1, "one plain copy and no tunnel message wrapping it")
        let call = try XCTUnwrap(calls.first)
        XCTAssertEqual(call.from, Self.tunnelSender)
        XCTAssertEqual(call.recipients, ["WebMail@Portal.Example"])
        XCTAssertEqual(Array(call.message.suffix(tunnelLike.count)), tunnelLike)
        XCTAssertEqual(HeaderBlock(call.message).decodedValue(GatewayFilter.traceField)?.hasPrefix("pass-through;"), true)
    }

    // MARK: - Address lists, OTP and read receipts

    func testDirectRecipientsPassThroughOTPRecipientsGetAnOTPTunnelAndAnOTPTagMakesAllNonDirectRecipientsOTP() throws {
        let filter = try makeFilter(["otp_enabled": "true"], direct: "carol@direct.example\n@partner.example\n", otp: "olga@ext.example\n")
        let everyone = ["bob@ext.example", "Carol@Direct.Example", "dan@partner.example", "olga@ext.example"]
        XCTAssertEqual(labels(filter, everyone, message()),
                       ["bob@ext.example": "tunnel webmail", "Carol@Direct.Example": "pass-through",
                        "dan@partner.example": "pass-through", "olga@ext.example": "tunnel otp-pdf"])
        XCTAssertEqual(labels(filter, ["eve@sub.partner.example"], message()), ["eve@sub.partner.example": "tunnel webmail"],
                       "@partner.example does not cover its subdomains")
        let tagged = message(subject: "[OTP] figures")
        XCTAssertEqual(labels(filter, everyone, tagged),
                       ["bob@ext.example": "tunnel otp-pdf", "Carol@Direct.Example": "pass-through",
                        "dan@partner.example": "pass-through", "olga@ext.example": "tunnel otp-pdf"])

        assertAccepted(filter.run(message: tagged, sender: Self.alice, recipients: everyone))
        let calls = try sendmail.calls()
        XCTAssertEqual(calls.count, 2)
        let accepted = try open(try XCTUnwrap(calls.first(where: isTunnel)).message)
        XCTAssertEqual(accepted.envelope.delivery, .otpPDF)
        XCTAssertEqual(accepted.envelope.recipients, ["bob@ext.example", "olga@ext.example"])
        XCTAssertEqual(HeaderBlock(accepted.original).decodedValue("Subject"), "figures", "the OTP tag is removed too")
        XCTAssertEqual(calls.first { !isTunnel($0) }?.recipients, ["Carol@Direct.Example", "dan@partner.example"])
    }

    func testWithOTPDisabledOTPRequestsPassThroughMarkedForTheGatewaysPDFEncryption() throws {
        let filter = try makeFilter(["otp_enabled": "false"], direct: "carol@direct.example\n", otp: "olga@ext.example\n")
        let everyone = ["bob@ext.example", "carol@direct.example", "olga@ext.example"]
        XCTAssertEqual(labels(filter, everyone, message()),
                       ["bob@ext.example": "tunnel webmail", "carol@direct.example": "pass-through",
                        "olga@ext.example": "pass-through gateway-pdf"])
        let tagged = message(subject: "[otp] figures")
        XCTAssertEqual(labels(filter, everyone, tagged),
                       ["bob@ext.example": "pass-through gateway-pdf", "carol@direct.example": "pass-through",
                        "olga@ext.example": "pass-through gateway-pdf"])

        assertAccepted(filter.run(message: tagged, sender: Self.alice, recipients: everyone))
        let calls = try sendmail.calls()
        XCTAssertEqual(calls.count, 2)
        XCTAssertTrue(calls.allSatisfy { !isTunnel($0) && $0.from == Self.alice }, "nothing goes to the portal")
        let pdf = try XCTUnwrap(calls.first { $0.recipients == ["bob@ext.example", "olga@ext.example"] })
        let plain = try XCTUnwrap(calls.first { $0.recipients == ["carol@direct.example"] })
        let pdfTrace = try XCTUnwrap(HeaderBlock(pdf.message).decodedValue(GatewayFilter.traceField))
        XCTAssertTrue(pdfTrace.hasPrefix("gateway-pdf"), pdfTrace)
        XCTAssertTrue(HeaderBlock(plain.message).decodedValue(GatewayFilter.traceField)?.hasPrefix("pass-through") ?? false)
        for call in [pdf, plain] {
            XCTAssertEqual(Array(call.message.suffix(tagged.count)), tagged, "the original follows the trace field unchanged, tag included")
            XCTAssertEqual(HeaderBlock(call.message).fields.count, HeaderBlock(tagged).fields.count + 1)
        }
    }

    func testReadReceiptWhenAskedGivesTheReadReceiptTunnelOnlyToAMessageWithDispositionNotificationTo() throws {
        let filter = try makeFilter(["read_receipt": "\"when-asked\""])
        let asking = message(extraHeaders: "Disposition-Notification-To: Alice <alice@corp.example>\r\n")
        XCTAssertEqual(labels(filter, ["bob@ext.example"], asking), ["bob@ext.example": "tunnel webmail read-receipt"])
        XCTAssertEqual(labels(filter, ["bob@ext.example"], message()), ["bob@ext.example": "tunnel webmail"])
        XCTAssertEqual(labels(filter, [Self.tunnelAddress], asking), [Self.tunnelAddress: "pass-through"])

        assertAccepted(filter.run(message: asking, sender: Self.alice, recipients: ["bob@ext.example"]))
        let calls = try sendmail.calls()
        XCTAssertEqual(calls.count, 1)
        let accepted = try open(try XCTUnwrap(calls.first(where: isTunnel)).message)
        XCTAssertTrue(accepted.envelope.readReceipt)
        XCTAssertEqual(accepted.original, asking, "no tag to remove: the original goes in unchanged")
    }
}
