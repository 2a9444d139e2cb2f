// The admin guide's Postfix lines that let only the gateway submit to the tunnel address
// (docs/operations.md, "Only the gateway may submit to the tunnel address"), run in a
// private Postfix: the gateway's address is listed (127.0.0.1), another client (connecting
// from 127.0.0.2) is refused at RCPT TO for the tunnel address and not for others.
import Foundation
import TestSupport
import XCTest

final class TunnelAddressAccessTests: XCTestCase {

    func testOnlyTheGatewaysAddressMaySubmitToTheTunnelAddressWithTheAdminGuidesRestrictionClass() throws {
        guard PostfixServer.postfixPath != nil, geteuid() == 0 else { throw XCTSkip("needs Postfix and root") }
        let scratch = try TemporaryDirectory()
        chmod(scratch.path, 0o755)  // Postfix's own user must reach its data directory
        let base = scratch.file("postfix")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let recipients = base.appending(path: "spoolrun-tunnel-recipient")
        let gateways = base.appending(path: "spoolrun-gateways.cidr")
        try "webmail@portal.test    spoolrun_gateway_only\n".write(toFile: recipients, atomically: true, encoding: .utf8)
        try "127.0.0.1/32    OK\n".write(toFile: gateways, atomically: true, encoding: .utf8)
        // smtpd opens its maps when it starts: made first, with a main.cf of their own.
        let postmapConfig = scratch.file("postmap")
        try FileManager.default.createDirectory(atPath: postmapConfig, withIntermediateDirectories: true)
        try "compatibility_level = 3.6\n".write(toFile: postmapConfig.appending(path: "main.cf"), atomically: true, encoding: .utf8)
        try Shell.check("postmap", ["-c", postmapConfig, "hash:" + recipients], timeout: 30)
        // As in docs/operations.md, with this test's paths.
        let snippet = """
            smtpd_restriction_classes = spoolrun_gateway_only
            spoolrun_gateway_only =
                check_client_access cidr:\(gateways),
                reject
            smtpd_recipient_restrictions =
                check_recipient_access hash:\(recipients)
            """
        let sinkPort = try LocalPorts.free()
        let postfix = try PostfixServer(base: base, relayPort: sinkPort, filterArgv: "/bin/true", extraMain: snippet)
        defer { postfix.stop() }

        let log = { (try? String(contentsOfFile: postfix.logFile, encoding: .utf8)).map { String($0.suffix(3000)) } ?? "" }
        let fromGateway = try Self.rcpt(port: postfix.filterPort, source: "127.0.0.1", ["webmail@portal.test"])
        XCTAssertEqual(fromGateway["webmail@portal.test"], 250, "the gateway may submit: \(fromGateway)\n\(log())")

        let fromElsewhere = try Self.rcpt(port: postfix.filterPort, source: "127.0.0.2", ["webmail@portal.test", "someone@other.test"])
        XCTAssertEqual(fromElsewhere["webmail@portal.test"], 554, "another client is refused: \(fromElsewhere)")
        XCTAssertEqual(fromElsewhere["someone@other.test"], 250, "other recipients are not affected: \(fromElsewhere)")
    }

    /// Opens an SMTP session from `source` and answers each RCPT TO's reply code; sends no DATA.
    private static func rcpt(port: Int, source: String, _ recipients: [String]) throws -> [String: Int] {
        let script = """
            import smtplib, sys
            s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), source_address=(sys.argv[2], 0), timeout=20)
            s.ehlo("client.test")
            s.mail("alice@corp.test")
            for r in sys.argv[3:]:
                code, _ = s.rcpt(r)
                print(r, code)
            s.rset()
            s.quit()
            """
        let r = try Shell.run("python3", ["-c", script, "\(port)", source] + recipients, timeout: 60)
        let out = r.out
        var codes: [String: Int] = [:]
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let code = Int(parts[1]) { codes[String(parts[0])] = code }
        }
        return codes
    }
}
