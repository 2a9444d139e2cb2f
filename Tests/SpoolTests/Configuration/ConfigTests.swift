// spoolrun.toml is read strictly: unknown keys and bad values name the file and the key.
import Foundation
@testable import Spool
import TestSupport
import XCTest

final class ConfigTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }

    let minimal = """
        [tunnel]
        recipient_address = "webmail@portal.example"
        sender_address = "webmail-sender@gateway.example"
        recipient_keys = [{ key = "keys/t.key", cert = "keys/t.crt" }]
        gateway_certs = ["keys/gw.crt"]

        """

    func load(_ text: String) throws -> SpoolrunConfig {
        let path = dir.file("spoolrun.toml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try SpoolrunConfig.load(path: path)
    }

    func assertConfigError(_ text: String, key: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(text), file: file, line: line) { error in
            guard let e = error as? ConfigError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(e.key, key, "\(e)", file: file, line: line)
            XCTAssertEqual(e.file, dir.file("spoolrun.toml"), file: file, line: line)
            XCTAssertTrue(e.description.contains(key) && e.description.contains(e.file), file: file, line: line)
        }
    }

    func testDefaultsApplyAndRelativePathsResolveFromTheConfigFolder() throws {
        let c = try load(minimal)
        XCTAssertEqual(c.maxAgeDays, 7)
        XCTAssertEqual(c.maxMessageBytes, 50 * 1024 * 1024)
        XCTAssertEqual(c.recipientKeys, [.init(key: dir.file("keys/t.key"), cert: dir.file("keys/t.crt"))])
        XCTAssertEqual(c.gatewayCerts, [dir.file("keys/gw.crt")])
        XCTAssertEqual(c.spool, dir.file("spool"))
        XCTAssertEqual(c.sendmail, "/usr/sbin/sendmail")
        XCTAssertEqual(c.retentionDays, 90)
    }

    func testUnknownKeysAreErrorsNamingTheKey() {
        assertConfigError(minimal + "surprise = 1\n", key: "tunnel.surprise")
        assertConfigError(minimal + "[limits]\nmax_messge_mb = 3\n", key: "limits.max_messge_mb")
        assertConfigError("[extra]\n" + minimal, key: "extra")
    }

    func testBadValuesAreErrorsNamingTheKey() {
        assertConfigError(minimal + "max_age_days = \"seven\"\n", key: "tunnel.max_age_days")
        assertConfigError(minimal + "max_age_days = 0\n", key: "tunnel.max_age_days")
        assertConfigError(minimal + "[limits]\nmax_message_mb = -1\n", key: "limits.max_message_mb")
        assertConfigError(minimal + "[portal]\nread_receipts = \"yes\"\n", key: "portal.read_receipts")
        assertConfigError(minimal.replacingOccurrences(of: "webmail@portal.example", with: "nobody"),
                          key: "tunnel.recipient_address")
        assertConfigError(minimal + "[mail]\nfrom = \"not an address\"\n", key: "mail.from")
    }

    func testSpoolFailedRetentionAndAttemptLimitHaveDefaultsAndBadValuesNameTheKey() throws {
        let defaults = try load(minimal)
        XCTAssertEqual(defaults.failedDays, 30)
        XCTAssertEqual(defaults.failedMaxBytes, 1024 * 1_048_576)
        XCTAssertEqual(defaults.maxAttempts, 5)
        let set = try load(minimal + "[spool]\nfailed_days = 7\nfailed_max_mb = 200\nmax_attempts = 2\n")
        XCTAssertEqual([set.failedDays, set.failedMaxBytes, set.maxAttempts], [7, 200 * 1_048_576, 2])
        assertConfigError(minimal + "[spool]\nfailed_days = 0\n", key: "spool.failed_days")
        assertConfigError(minimal + "[spool]\nfailed_days = \"30d\"\n", key: "spool.failed_days")
        assertConfigError(minimal + "[spool]\nfailed_max_mb = -5\n", key: "spool.failed_max_mb")
        assertConfigError(minimal + "[spool]\nmax_attempts = 0\n", key: "spool.max_attempts")
        assertConfigError(minimal + "[spool]\nfailed_dayz = 3\n", key: "spool.failed_dayz")
    }

    func testWayBackSettingsHaveDefaultsAndBadValuesNameTheKey() throws {
        let defaults = try load(minimal).wayBack
        XCTAssertEqual(defaults.firstContact, .sender, "absent, first contact stays as it was before the way back")
        XCTAssertEqual(defaults.inviteDays, 14)
        XCTAssertEqual(defaults.secondFactor, .optional)
        XCTAssertTrue(defaults.selfServiceReset)
        XCTAssertEqual(defaults.requestMaxBytes, 64 * 1024)
        XCTAssertEqual(defaults.requestsPerHour, 60)
        let set = try load(minimal + """
            [portal]
            first_contact = "invite"
            invite_days = 3
            second_factor = "required"
            self_service_reset = false
            request_max_kb = 16
            requests_per_hour = 10

            """).wayBack
        XCTAssertEqual(set.firstContact, .invite)
        XCTAssertEqual(set.inviteDays, 3)
        XCTAssertEqual(set.secondFactor, .required)
        XCTAssertFalse(set.selfServiceReset)
        XCTAssertEqual(set.requestMaxBytes, 16 * 1024)
        XCTAssertEqual(set.requestsPerHour, 10)
        assertConfigError(minimal + "[portal]\nfirst_contact = \"email\"\n", key: "portal.first_contact")
        assertConfigError(minimal + "[portal]\nsecond_factor = true\n", key: "portal.second_factor")
        assertConfigError(minimal + "[portal]\ninvite_days = 0\n", key: "portal.invite_days")
        assertConfigError(minimal + "[portal]\nrequest_max_kb = 4096\n", key: "portal.request_max_kb")
        assertConfigError(minimal + "[portal]\nrequests_per_hour = 0\n", key: "portal.requests_per_hour")
        assertConfigError(minimal + "[portal]\nself_service_reset = \"yes\"\n", key: "portal.self_service_reset")
    }

    func testTunnelKeysAndPinnedCertificatesAreRequired() {
        assertConfigError(minimal.replacingOccurrences(of: "gateway_certs = [\"keys/gw.crt\"]", with: "gateway_certs = []"),
                          key: "tunnel.gateway_certs")
        assertConfigError(minimal.replacingOccurrences(of: "{ key = \"keys/t.key\", cert = \"keys/t.crt\" }", with: "{ key = \"k\" }"),
                          key: "tunnel.recipient_keys[0].cert")
    }

    func testSyntaxErrorNamesTheFileAndLine() {
        XCTAssertThrowsError(try load(minimal + "this is = = not toml\n")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(self.dir.file("spoolrun.toml")) && text.contains("line"), text)
        }
    }

    func testSetupWritesAConfigThatLoads() throws {
        let inst = try Setup.run(SetupOptions(directory: dir.file("inst")))
        let c = try SpoolrunConfig.load(path: inst.config)
        XCTAssertEqual(c.state, dir.file("inst/state"))
        XCTAssertEqual(try GatewayConfig.load(path: inst.gatewayConfig).senderKey, dir.file("inst-gateway/gateway-sender.key"),
                       "the gateway's files go beside the installation, not into it")
    }
}
