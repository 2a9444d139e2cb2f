// `spoolrun gateway filter` as Postfix runs it (issue 7): the built binary, the message on
// stdin, the envelope as arguments, and a real sendmail-compatible command (a shell script
// that keeps every call). The exit status is what Postfix acts on: 0 accepted, 65 never
// acceptable, 75 try again later, usage and configuration errors included, so that a mistake
// in master.cf or gateway.toml holds mail back instead of bouncing it.
import Foundation
import TestSupport
import XCTest

final class GatewayFilterCommandTests: XCTestCase {
    static let alice = "alice@corp.test"
    static let tunnelAddress = TestInstallation.recipientAddress
    static let tunnelSender = TestInstallation.senderAddress

    private var inst: TestInstallation!
    private var setupText = ""
    private var calls = ""
    private var script = ""

    /// Keeps argv (one per line) and stdin of each call in calls/N; exits 0.
    private static let scriptText = """
        #!/bin/sh
        calls="$(dirname "$0")/calls"
        n=1
        while [ "$n" -le 500 ]; do
            if mkdir "$calls/$n" 2>/dev/null; then break; fi
            n=$((n + 1))
        done
        [ "$n" -le 500 ] || exit 70
        for a in "$@"; do printf '%s\\n' "$a"; done > "$calls/$n/argv"
        cat > "$calls/$n/stdin"
        exit 0

        """

    private let original = Data("""
        From: Alice <alice@corp.test>\r
        To: Bob <bob@ext.test>, carol@direct.test\r
        Subject: [secure] Quarterly report\r
        Date: Wed, 25 Nov 2026 10:00:00 +0000\r
        Message-ID: <gwcmd@corp.test>\r
        \r
        MARKER-BODY-8J4 the figures.\r

        """.utf8)

    override func setUpWithError() throws {
        inst = try TestInstallation()
        setupText = try String(contentsOfFile: inst.gatewayConfig, encoding: .utf8)
        let dir = inst.scratch.file("sendmail")
        calls = dir.appending(path: "calls")
        script = dir.appending(path: "sendmail.sh")
        try FileManager.default.createDirectory(atPath: calls, withIntermediateDirectories: true)
        try Self.scriptText.write(toFile: script, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(script, 0o755), 0)
        try configure()
    }

    /// gateway.toml as setup wrote it, with the recording sendmail and these lines replaced.
    private func configure(_ settings: [String: String] = [:], direct: String? = "carol@direct.test\n", otp: String? = nil) throws {
        var text = setupText
        func set(_ key: String, _ value: String) {
            var lines = text.components(separatedBy: "\n")
            guard let i = lines.firstIndex(where: { $0.hasPrefix("\(key) =") || $0.hasPrefix("# \(key) =") }) else {
                return XCTFail("setup's gateway.toml has no \(key) line")
            }
            lines[i] = "\(key) = \(value)"
            text = lines.joined(separator: "\n")
        }
        set("sendmail", "\"\(script)\"")
        if let direct {
            try direct.write(toFile: inst.gateway.appending(path: "direct.txt"), atomically: true, encoding: .utf8)
            set("direct_recipients", "\"direct.txt\"")
        }
        if let otp {
            try otp.write(toFile: inst.gateway.appending(path: "otp.txt"), atomically: true, encoding: .utf8)
            set("otp_recipients", "\"otp.txt\"")
        }
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { set(key, value) }
        try text.write(toFile: inst.gatewayConfig, atomically: true, encoding: .utf8)
    }

    private func filter(_ arguments: [String], stdin: Data?) throws -> ProcessResult {
        try Shell.run(Paths.spoolrun, ["gateway", "filter"] + arguments, stdin: stdin, timeout: 120)
    }

    /// Each call the sendmail command got: (-f value, recipients after --, message).
    private func sent() throws -> [(from: String?, recipients: [String], message: Data)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: calls).compactMap(Int.init).sorted()
        return try names.map { n in
            let dir = calls.appending(path: String(n))
            var argv = try String(contentsOfFile: dir.appending(path: "argv"), encoding: .utf8).components(separatedBy: "\n")
            if argv.last == "" { argv.removeLast() }
            let dash = argv.firstIndex(of: "--") ?? argv.count
            let from = argv[..<dash].firstIndex(of: "-f").flatMap { $0 + 1 < dash ? argv[$0 + 1] : nil }
            let recipients = dash < argv.count ? Array(argv[(dash + 1)...]) : []
            return (from, recipients, try Data(contentsOf: URL(fileURLWithPath: dir.appending(path: "stdin"))))
        }
    }

    private var journalEntries: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: inst.gateway.appending(path: "journal"))) ?? []
    }

    // MARK: - 0

    func testAnAcceptedMessageExits0AndItsTunnelPartIsAcceptedByThePortalsSweep() throws {
        let r = try filter(["--config", inst.gatewayConfig, "-f", Self.alice, "--", "bob@ext.test", "carol@direct.test"], stdin: original)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "", "nothing on stdout outside --dry-run")
        let calls = try sent()
        XCTAssertEqual(calls.count, 2, "the tunnel part and the passed-through copy")
        let tunnel = try XCTUnwrap(calls.first { $0.from == Self.tunnelSender })
        XCTAssertEqual(tunnel.recipients, [Self.tunnelAddress])
        XCTAssertNil(tunnel.message.range(of: Data("MARKER-BODY-8J4".utf8)), "no plaintext in the tunnel part")
        let plain = try XCTUnwrap(calls.first { $0.from == Self.alice })
        XCTAssertEqual(plain.recipients, ["carol@direct.test"])
        XCTAssertTrue(plain.message.starts(with: Data("X-Spoolrun-Gateway: pass-through; ".utf8)))
        XCTAssertEqual(plain.message.suffix(original.count), original, "the original follows the trace field byte for byte")
        XCTAssertEqual(journalEntries.count, 2, "both parts are remembered")

        // The portal takes the tunnel part: a sweep archives it as accepted.
        try inst.deliver(tunnel.message, name: "gw-tunnel")
        let sweep = try inst.sweep()
        XCTAssertEqual(sweep.status, 0, sweep.err)
        XCTAssertEqual(inst.names(in: "archive"), ["gw-tunnel"], "accepted by the portal; stderr: \(sweep.err)")
        XCTAssertEqual(inst.names(in: "failed"), [])

        // Postfix delivering the same message again: every part is already sent.
        let again = try filter(["--config", inst.gatewayConfig, "-f", Self.alice, "--", "bob@ext.test", "carol@direct.test"], stdin: original)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try sent().count, 2, "no part goes out twice")
    }

    func testTheNullSenderWorksForAMessageRoutedOnlyToPassThroughRecipients() throws {
        let r = try filter(["--config", inst.gatewayConfig, "-f", "", "--", "carol@direct.test", Self.tunnelAddress], stdin: original)
        XCTAssertEqual(r.status, 0, r.err)
        let calls = try sent()
        XCTAssertEqual(calls.count, 1)
        let call = try XCTUnwrap(calls.first)
        XCTAssertEqual(call.from, "", "the null sender is handed on as -f \"\"")
        XCTAssertEqual(call.recipients, ["carol@direct.test", Self.tunnelAddress])
        XCTAssertEqual(call.message.suffix(original.count), original)
    }

    // MARK: - 65

    func testAnEmptyMessageExits65AndNothingIsSent() throws {
        for stdin in [Data(), nil] {
            let r = try filter(["--config", inst.gatewayConfig, "-f", Self.alice, "--", "bob@ext.test"], stdin: stdin)
            XCTAssertEqual(r.status, 65, r.err)
            XCTAssertTrue(r.err.contains("empty"), r.err)
        }
        XCTAssertEqual(try sent().count, 0)
    }

    func testTheNullSenderToAWebmailRecipientExits65AndNothingIsSent() throws {
        let r = try filter(["--config", inst.gatewayConfig, "-f", "", "--", "carol@direct.test", "bob@ext.test"], stdin: original)
        XCTAssertEqual(r.status, 65, r.err)
        XCTAssertTrue(r.err.contains("null sender"), r.err)
        XCTAssertEqual(try sent().count, 0, "not even the direct recipient's copy")
    }

    // MARK: - 75

    func testUsageErrorsExit75SoThatPostfixHoldsTheMail() throws {
        let cases: [[String]] = [
            ["filter", "--config", inst.gatewayConfig, "--bogus", "-f", Self.alice, "--", "bob@ext.test"],
            ["filter", "-f", Self.alice, "--", "bob@ext.test"],                          // no --config
            ["filter", "--config", inst.gatewayConfig, "--", "bob@ext.test"],            // no -f
            ["filter", "--config", inst.gatewayConfig, "-f", Self.alice, "bob@ext.test"], // recipients without --
            ["filtre", "--config", inst.gatewayConfig, "-f", Self.alice, "--", "bob@ext.test"],
        ]
        for arguments in cases {
            let r = try Shell.run(Paths.spoolrun, ["gateway"] + arguments, stdin: original, timeout: 60)
            XCTAssertEqual(r.status, 75, "\(arguments): \(r.err)")
            XCTAssertFalse(r.err.isEmpty, "\(arguments): a usage error says what is wrong")
        }
        XCTAssertEqual(try sent().count, 0)
        // Outside `gateway`, a usage error keeps ArgumentParser's status.
        let other = try Shell.run(Paths.spoolrun, ["status", "--bogus"], timeout: 60)
        XCTAssertEqual(other.status, 64, other.err)
    }

    func testAMissingConfigFileExits75AndNamesIt() throws {
        let missing = inst.scratch.file("no-such-gateway.toml")
        let r = try filter(["--config", missing, "-f", Self.alice, "--", "bob@ext.test"], stdin: original)
        XCTAssertEqual(r.status, 75, r.err)
        XCTAssertTrue(r.err.contains(missing), r.err)
        XCTAssertEqual(try sent().count, 0)
    }

    func testAnUnreadableOrInvalidDirectRecipientsFileExits75AndNamesIt() throws {
        // direct_recipients named but not there.
        try configure(["direct_recipients": "\"absent.txt\""], direct: nil)
        let r = try filter(["--config", inst.gatewayConfig, "-f", Self.alice, "--", "bob@ext.test"], stdin: original)
        XCTAssertEqual(r.status, 75, r.err)
        XCTAssertTrue(r.err.contains(inst.gateway.appending(path: "absent.txt")), r.err)

        // A directory where the file should be cannot be read either.
        let asDirectory = inst.gateway.appending(path: "a-directory")
        try FileManager.default.createDirectory(atPath: asDirectory, withIntermediateDirectories: true)
        try configure(["direct_recipients": "\"a-directory\""], direct: nil)
        let d = try filter(["--config", inst.gatewayConfig, "-f", Self.alice, "--", "bob@ext.test"], stdin: original)
        XCTAssertEqual(d.status, 75, d.err)
        XCTAssertTrue(d.err.contains(asDirectory), d.err)

        // A typo in the list is a configuration error too: it must not silently route mail.
        try configure(direct: "carol@direct.test\ncarol at direct.test\n")
        let t = try filter(["--config", inst.gatewayConfig, "-f", Self.alice, "--", "bob@ext.test"], stdin: original)
        XCTAssertEqual(t.status, 75, t.err)
        XCTAssertTrue(t.err.contains("direct.txt") && t.err.contains("line 2"), t.err)
        XCTAssertEqual(try sent().count, 0)
    }

    func testASendmailCommandThatDoesNotExistExits75() throws {
        let absent = inst.scratch.file("no-such-sendmail")
        try configure(["sendmail": "\"\(absent)\""])
        let r = try filter(["--config", inst.gatewayConfig, "-f", Self.alice, "--", "bob@ext.test", "carol@direct.test"], stdin: original)
        XCTAssertEqual(r.status, 75, r.err)
        XCTAssertTrue(r.err.contains("deferred") && r.err.contains(absent), r.err)
        XCTAssertEqual(journalEntries, [], "nothing is recorded as sent")
    }

    // MARK: - --dry-run

    func testDryRunPrintsEachRecipientsRouteAndSendsNothing() throws {
        try configure(["otp_enabled": "true", "read_receipt": "\"when-asked\""], direct: "carol@direct.test\n@partner.test\n", otp: "olga@ext.test\n")
        let r = try filter(["--config", inst.gatewayConfig, "-f", Self.alice, "--dry-run", "--",
                            "Bob@Ext.Test", "carol@direct.test", "dan@partner.test", "olga@ext.test", Self.tunnelAddress], stdin: original)
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 5, r.out)
        XCTAssertEqual(Set(lines), ["bob@ext.test tunnel webmail", "carol@direct.test pass-through", "dan@partner.test pass-through",
                                    "olga@ext.test tunnel otp-pdf", "\(Self.tunnelAddress) pass-through"])
        XCTAssertEqual(try sent().count, 0, "--dry-run sends nothing")
        XCTAssertEqual(journalEntries, [], "and records nothing")

        let asking = Data("Disposition-Notification-To: alice@corp.test\r\n".utf8) + original
        let receipt = try filter(["--config", inst.gatewayConfig, "-f", Self.alice, "--dry-run", "--", "bob@ext.test"], stdin: asking)
        XCTAssertEqual(receipt.status, 0, receipt.err)
        XCTAssertEqual(receipt.out, "bob@ext.test tunnel webmail read-receipt\n")
        XCTAssertEqual(try sent().count, 0)
    }
}
