// Configuration and key problems stop the program before it touches the spool, with a
// message that names the file and the key.
import Foundation
import TestSupport
import XCTest

final class ConfigAndKeyTests: XCTestCase {
    func deliverOne(_ inst: TestInstallation) throws -> String {
        let tunnel = try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test"])
        try inst.deliver(tunnel, name: "waiting")
        return "waiting"
    }

    func testUnknownConfigKeyIsAnErrorNamingTheFileAndTheKey() throws {
        let inst = try TestInstallation()
        try (try String(contentsOfFile: inst.config, encoding: .utf8) + "\n[limits2]\nfoo = 1\n")
            .write(toFile: inst.config, atomically: true, encoding: .utf8)
        let r = try Shell.run(Paths.spoolrun, ["run", "--config", inst.config])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains(inst.config), r.err)
        XCTAssertTrue(r.err.contains("limits2"), r.err)
    }

    func testUnknownKeyInsideASectionIsNamedWithItsSection() throws {
        let inst = try TestInstallation()
        try inst.setConfig("max_age_days", "7\nmax_agee_days = 3")
        let r = try Shell.run(Paths.spoolrun, ["run", "--config", inst.config])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("tunnel.max_agee_days"), r.err)
        XCTAssertTrue(r.err.contains(inst.config), r.err)
    }

    func testBadConfigValueIsAnErrorNamingTheKey() throws {
        let inst = try TestInstallation()
        let name = try deliverOne(inst)
        try inst.setConfig("max_message_mb", "\"fifty\"")
        let r = try Shell.run(Paths.spoolrun, ["run", "--config", inst.config])
        XCTAssertEqual(r.status, 78, "EX_CONFIG")
        XCTAssertTrue(r.err.contains("limits.max_message_mb"), r.err)
        XCTAssertTrue(r.err.contains(inst.config), r.err)
        XCTAssertEqual(inst.names(in: "new"), [name], "nothing is taken in under a broken config")
    }

    func testMissingConfigFileIsAnErrorNamingTheFile() throws {
        let r = try Shell.run(Paths.spoolrun, ["run", "--config", "/nonexistent/spoolrun.toml"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("/nonexistent/spoolrun.toml"), r.err)
    }

    func testConfigPathDefaultsToTheSPOOLRUN_CONFIGVariable() throws {
        let inst = try TestInstallation()
        let r = try Shell.run(Paths.spoolrun, ["status"], environment: ["SPOOLRUN_CONFIG": inst.config])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("accepted: 0"), r.out)
    }

    func testPrivateKeyReadableByGroupOrOthersStopsTheSweepNamingTheFile() throws {
        for mode: mode_t in [0o640, 0o604] {
            let inst = try TestInstallation()
            let name = try deliverOne(inst)
            let key = inst.root.appending(path: "keys/tunnel-recipient.key")
            XCTAssertEqual(chmod(key, mode), 0)
            let r = try Shell.run(Paths.spoolrun, ["run", "--config", inst.config])
            XCTAssertNotEqual(r.status, 0, "mode \(String(mode, radix: 8))")
            XCTAssertTrue(r.err.contains(key), r.err)
            XCTAssertTrue(r.err.contains("chmod 600"), r.err)
            XCTAssertEqual(inst.names(in: "new"), [name], "the spool is untouched")
            XCTAssertEqual(inst.names(in: "failed"), [])
        }
    }

    func testWrapRefusesAGatewayKeyReadableByOthers() throws {
        let inst = try TestInstallation()
        let key = inst.gateway.appending(path: "gateway-sender.key")
        XCTAssertEqual(chmod(key, 0o644), 0)
        let r = try Shell.run(Paths.spoolrun, ["wrap", "--config", inst.gatewayConfig, "--to", "bob@ext.test"],
                              stdin: TestInstallation.sampleOriginal)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains(key), r.err)
        XCTAssertTrue(r.stdout.isEmpty, "no tunnel message is written")
    }

    func testMissingPinnedCertificateIsAClearError() throws {
        let inst = try TestInstallation()
        let name = try deliverOne(inst)
        let pinned = inst.root.appending(path: "keys/gateway-sender.crt")
        try FileManager.default.removeItem(atPath: pinned)
        let r = try Shell.run(Paths.spoolrun, ["run", "--config", inst.config])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains(pinned), r.err)
        XCTAssertTrue(r.err.contains("pinned gateway certificate is missing"), r.err)
        XCTAssertEqual(inst.names(in: "new"), [name])
    }

    func testTunnelCertificateThatDoesNotMatchItsKeyIsAClearError() throws {
        let inst = try TestInstallation()
        let cert = inst.root.appending(path: "keys/tunnel-recipient.crt")
        try FileManager.default.removeItem(atPath: cert)
        try FileManager.default.copyItem(atPath: inst.root.appending(path: "keys/gateway-sender.crt"), toPath: cert)
        let r = try Shell.run(Paths.spoolrun, ["run", "--config", inst.config])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains(cert) && r.err.contains("does not belong"), r.err)
    }
}
