// `spoolrun setup --dir D` (the setup wizard, DESIGN §3 and README "Installing"): what it
// writes, with which modes, which certificates, what it refuses, and an nginx config that
// really serves the portal as an unprivileged user.
import Foundation
import XCTest
import TestSupport

final class SetupTests: XCTestCase {
    private var nginx: NginxServer?

    override func tearDown() {
        nginx?.stop()  // nothing may stay running, whatever the test did
        nginx = nil
        super.tearDown()
    }

    // MARK: - Files and modes

    func testSetupWritesEveryListedFileWithPrivateKeys0600AndTheStateDirectory0700() throws {
        let scratch = try TemporaryDirectory()
        let d = scratch.file("inst")
        let r = try SetupKit.setup(d)
        XCTAssertEqual(r.status, 0, r.err)

        let files = ["spoolrun.toml", "nginx.conf",
                     "keys/tunnel-recipient.key", "keys/tunnel-recipient.crt", "keys/gateway-sender.crt",
                     "gateway/gateway-sender.key", "gateway/gateway-sender.crt", "gateway/tunnel-recipient.crt",
                     "gateway/gateway.toml", "www/index.html"]
        for f in files {
            XCTAssertEqual(SetupKit.fileType(SetupKit.at(d, f)), S_IFREG, "setup must write D/\(f)")
        }
        let dirs = ["keys", "gateway/", "spool", "spool/tmp", "spool/new", "spool/cur", "spool/archive",
                    "spool/failed", "www", "state", "logs", "run"]
        for dir in dirs {
            XCTAssertEqual(SetupKit.fileType(SetupKit.at(d, dir)), S_IFDIR, "setup must make D/\(dir)")
        }

        for key in ["keys/tunnel-recipient.key", "gateway/gateway-sender.key"] {
            XCTAssertEqual(SetupKit.mode(SetupKit.at(d, key)), 0o600, "D/\(key) must be mode 0600")
            let check = try Shell.run("openssl", ["pkey", "-in", SetupKit.at(d, key), "-noout"], timeout: 30)
            XCTAssertEqual(check.status, 0, "D/\(key) must be a private key: \(check.err)")
        }
        XCTAssertEqual(SetupKit.mode(d.appending(path: "state")), 0o700, "D/state must be mode 0700")
        for cert in ["keys/tunnel-recipient.crt", "keys/gateway-sender.crt", "gateway/gateway-sender.crt",
                     "gateway/tunnel-recipient.crt"] {
            let check = try Shell.run("openssl", ["x509", "-in", SetupKit.at(d, cert), "-noout"], timeout: 30)
            XCTAssertEqual(check.status, 0, "D/\(cert) must be a certificate: \(check.err)")
            XCTAssertEqual((SetupKit.mode(SetupKit.at(d, cert)) ?? 0) & 0o022, 0, "D/\(cert) must not be writable by others")
        }
        // The gateway gets the very certificates the portal uses.
        XCTAssertEqual(try SetupKit.contents(d.appending(path: "keys/tunnel-recipient.crt")),
                       try SetupKit.contents(SetupKit.at(d, "gateway/tunnel-recipient.crt")))
        XCTAssertEqual(try SetupKit.fingerprint(d.appending(path: "keys/gateway-sender.crt")),
                       try SetupKit.fingerprint(SetupKit.at(d, "gateway/gateway-sender.crt")))

        // The config names the installation's own folders and the addresses given.
        let config = try String(contentsOfFile: d.appending(path: "spoolrun.toml"), encoding: .utf8)
        for (key, sub) in [("spool", "spool"), ("www", "www"), ("state", "state")] {
            let value = SetupKit.tomlValue(config, key: key)
            XCTAssertNotNil(value, "spoolrun.toml must set paths.\(key)")
            if let value {
                let resolved = value.hasPrefix("/") ? value : d.appending(path: value)
                XCTAssertEqual((resolved as NSString).standardizingPath, (d.appending(path: sub) as NSString).standardizingPath,
                               "paths.\(key) must be D/\(sub)")
            }
        }
        XCTAssertEqual(SetupKit.tomlValue(config, key: "recipient_address"), SetupKit.recipient)
        XCTAssertEqual(SetupKit.tomlValue(config, key: "sender_address"), SetupKit.sender)

        let nginxConf = try String(contentsOfFile: d.appending(path: "nginx.conf"), encoding: .utf8)
        XCTAssertTrue(nginxConf.contains("daemon off;"), "nginx.conf must run nginx in the foreground")
        XCTAssertTrue(nginxConf.contains("listen 127.0.0.1:18080;"), "nginx.conf must listen where --listen says")

        // The installation works: `spoolrun status` reads the config.
        let status = try Shell.run(Paths.spoolrun, ["status", "--config", d.appending(path: "spoolrun.toml")], timeout: 60)
        XCTAssertEqual(status.status, 0, status.err)
    }

    // MARK: - Certificates

    func testCertificatesCarrySMIMEKeyUsageEncipherForTheTunnelAndSignForTheGateway() throws {
        let scratch = try TemporaryDirectory()
        let d = scratch.file("inst")
        let r = try SetupKit.setup(d)
        XCTAssertEqual(r.status, 0, r.err)

        for tunnel in ["keys/tunnel-recipient.crt", "gateway/tunnel-recipient.crt"] {
            let ext = try SetupKit.extensions(SetupKit.at(d, tunnel))
            XCTAssertTrue(ext["Key Usage", default: ""].contains("Key Encipherment"), "\(tunnel) keyUsage: \(ext)")
            XCTAssertTrue(ext["Extended Key Usage", default: ""].contains("E-mail Protection"), "\(tunnel) extendedKeyUsage: \(ext)")
        }
        for gateway in ["keys/gateway-sender.crt", "gateway/gateway-sender.crt"] {
            let ext = try SetupKit.extensions(SetupKit.at(d, gateway))
            XCTAssertTrue(ext["Key Usage", default: ""].contains("Digital Signature"), "\(gateway) keyUsage: \(ext)")
            XCTAssertTrue(ext["Key Usage", default: ""].contains("Non Repudiation"), "\(gateway) keyUsage: \(ext)")
            XCTAssertTrue(ext["Extended Key Usage", default: ""].contains("E-mail Protection"), "\(gateway) extendedKeyUsage: \(ext)")
        }
    }

    // MARK: - Refusals

    func testSetupRefusesToOverwriteAnExistingInstallationAndLeavesItsKeysAsTheyWere() throws {
        let scratch = try TemporaryDirectory()
        let d = scratch.file("inst")
        let first = try SetupKit.setup(d)
        XCTAssertEqual(first.status, 0, first.err)

        let kept = ["keys/tunnel-recipient.key", "keys/tunnel-recipient.crt", "keys/gateway-sender.crt",
                    "gateway/gateway-sender.key", "gateway/gateway-sender.crt", "gateway/tunnel-recipient.crt",
                    "gateway/gateway.toml", "spoolrun.toml", "nginx.conf"]
        var before: [String: Data] = [:]
        for f in kept { before[f] = try SetupKit.contents(SetupKit.at(d, f)) }

        let second = try SetupKit.setup(d, listen: "127.0.0.1:18081")
        XCTAssertNotEqual(second.status, 0, "a second setup into the same folder must fail")
        let message = second.err.lowercased()
        XCTAssertTrue(message.contains("refus") || message.contains("already") || message.contains("exists"),
                      "stderr must say why: \(second.err)")
        XCTAssertTrue(second.err.contains(d), "stderr should name the folder: \(second.err)")
        for f in kept {
            XCTAssertEqual(try SetupKit.contents(SetupKit.at(d, f)), before[f], "D/\(f) must be unchanged")
        }
        XCTAssertEqual(SetupKit.mode(d.appending(path: "keys/tunnel-recipient.key")), 0o600)
    }

    func testGatewayCertOptionPinsThatCertificateAndMakesNoGatewayKey() throws {
        let scratch = try TemporaryDirectory()
        let (key, cert) = try SetupKit.openSSLPair(in: scratch)
        let d = scratch.file("inst")
        let r = try SetupKit.setup(d, extra: ["--gateway-cert", cert])
        XCTAssertEqual(r.status, 0, r.err)

        let pinned = d.appending(path: "keys/gateway-sender.crt")
        XCTAssertEqual(try SetupKit.fingerprint(pinned), try SetupKit.fingerprint(cert),
                       "D/keys/gateway-sender.crt must be the given certificate")
        XCTAssertFalse(FileManager.default.fileExists(atPath: SetupKit.at(d, "gateway/gateway-sender.key")),
                       "with --gateway-cert, setup makes no gateway key")
        XCTAssertEqual(SetupKit.fileType(d.appending(path: "keys/tunnel-recipient.key")), S_IFREG)
        XCTAssertEqual(SetupKit.fileType(SetupKit.at(d, "gateway/tunnel-recipient.crt")), S_IFREG)

        // Trust follows the pin: a message signed with the given pair is accepted.
        let gatewayConfig = scratch.file("gateway.toml")
        try """
            [gateway]
            webmail_recipient = "\(SetupKit.recipient)"
            webmail_sender = "\(SetupKit.sender)"
            sender_key = "\(key)"
            sender_cert = "\(cert)"
            recipient_cert = "\(SetupKit.at(d, "gateway/tunnel-recipient.crt"))"

            """.write(toFile: gatewayConfig, atomically: true, encoding: .utf8)
        let tunnel = try Shell.check(Paths.spoolrun, ["wrap", "--config", gatewayConfig, "--to", "bob@ext.test"],
                                     stdin: TestInstallation.sampleOriginal, timeout: 60).stdout
        try tunnel.write(to: URL(fileURLWithPath: d.appending(path: "spool/tmp/pinned")))
        XCTAssertEqual(rename(d.appending(path: "spool/tmp/pinned"), d.appending(path: "spool/new/pinned")), 0)
        let sweep = try Shell.run(Paths.spoolrun, ["run", "--config", d.appending(path: "spoolrun.toml")], timeout: 120)
        XCTAssertEqual(sweep.status, 0, sweep.err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d.appending(path: "spool/archive")), ["pinned"],
                       "a message signed by the pinned certificate must be accepted; stderr: \(sweep.err)")
    }

    func testABadGatewayCertIsRefusedWithAMessageNamingTheFileAndNothingIsCreated() throws {
        let scratch = try TemporaryDirectory()
        let bogus = scratch.file("not-a-cert.pem")
        try Data("-----BEGIN CERTIFICATE-----\nthis is not base64 DER\n-----END CERTIFICATE-----\n".utf8)
            .write(to: URL(fileURLWithPath: bogus))
        let d = scratch.file("inst")
        let r = try SetupKit.setup(d, extra: ["--gateway-cert", bogus])
        XCTAssertNotEqual(r.status, 0, "setup must refuse a --gateway-cert that is not a certificate")
        XCTAssertTrue(r.err.contains(bogus), "the message must name the file: \(r.err)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: d), "nothing may be created: \(SetupKit.tree(d))")

        // A file that does not exist is refused the same way.
        let missing = scratch.file("missing.crt")
        let r2 = try SetupKit.setup(d, extra: ["--gateway-cert", missing])
        XCTAssertNotEqual(r2.status, 0, "setup must refuse a --gateway-cert that does not exist")
        XCTAssertTrue(r2.err.contains(missing), "the message must name the file: \(r2.err)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: d), "nothing may be created: \(SetupKit.tree(d))")
    }

    // MARK: - nginx

    func testNginxFromTheGeneratedConfigServesTheWebRootAndLogsReceiptsAsANonRootUser() throws {
        guard NginxServer.nginxPath != nil else { throw MissingTool("nginx") }
        let scratch = try TemporaryDirectory()
        let d = scratch.file("inst")
        let port = try LocalPorts.free()
        let r = try SetupKit.setup(d, listen: "127.0.0.1:\(port)")
        XCTAssertEqual(r.status, 0, r.err)

        // Something that exists but is hidden must not be served.
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: d.appending(path: "www/.hidden")))

        // As root, nginx runs as nobody: the config must work for an unprivileged user.
        let test = try NginxServer.configTest(root: d)
        XCTAssertEqual(test.status, 0, "nginx -t must accept the generated config: \(test.err)")
        guard test.status == 0 else { return }
        let server = try NginxServer(root: d, port: port)
        nginx = server
        let p = server
        let base = server.base
        let diagnostics = { server.diagnostics() }

        // The web root's index.html, with the security headers.
        let index = try SetupKit.curl([base + "/"])
        XCTAssertEqual(index.out, try String(contentsOfFile: d.appending(path: "www/index.html"), encoding: .utf8))
        let headers = try SetupKit.curl(["-D", "-", "-o", "/dev/null", base + "/"]).out.lowercased()
        XCTAssertTrue(headers.contains("content-security-policy:"), "the response must carry a CSP: \(headers)")

        // A receipt: 204, logged where the sweep reads it.
        let token = "rcpt-\(UInt32.random(in: 100_000...999_999))-token-abcd"  // token-shaped: 22 characters
        let receipt = try SetupKit.curl(["-o", "/dev/null", "-w", "%{http_code}", base + "/r/" + token]).out
        XCTAssertEqual(receipt, "204", "/r/TOKEN must answer 204")
        let receipts = d.appending(path: "logs/receipts.log")
        var logged = ""
        for _ in 0..<50 {
            logged = (try? String(contentsOfFile: receipts, encoding: .utf8)) ?? ""
            if logged.contains("/r/" + token) { break }
            usleep(100_000)
        }
        XCTAssertTrue(logged.split(separator: "\n").contains { $0.contains("/r/" + token) },
                      "D/logs/receipts.log must get a line with /r/\(token): \(logged)")

        // Hidden and missing files are not found.
        XCTAssertEqual(try SetupKit.curl(["-o", "/dev/null", "-w", "%{http_code}", base + "/.hidden"]).out, "404")
        XCTAssertEqual(try SetupKit.curl(["-o", "/dev/null", "-w", "%{http_code}", base + "/no-such-file.html"]).out, "404")
        XCTAssertTrue(p.isRunning, "nginx must still run; \(diagnostics())")
    }
}

// Helpers for this file only (a distinct name, so as not to clash with other test files).
private enum SetupKit {
    static let recipient = "webmail@portal.test"
    static let sender = "webmail-sender@gateway.test"

    /// A file setup writes: "gateway/NAME" is in the gateway folder beside D (D-gateway/NAME),
    /// anything else inside D.
    static func at(_ d: String, _ name: String) -> String {
        name.hasPrefix("gateway/") ? d + "-" + name : d.appending(path: name)
    }

    static func setup(_ dir: String, listen: String = "127.0.0.1:18080", extra: [String] = []) throws -> ProcessResult {
        try Shell.run(Paths.spoolrun, ["setup", "--dir", dir, "--recipient-address", recipient,
                                       "--sender-address", sender, "--listen", listen] + extra, timeout: 120)
    }

    static func contents(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    static func fileType(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    static func mode(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & 0o7777
    }

    static func fingerprint(_ cert: String) throws -> String {
        try Shell.check("openssl", ["x509", "-in", cert, "-noout", "-fingerprint", "-sha256"], timeout: 30).out
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `openssl x509 -ext keyUsage,extendedKeyUsage` as "Key Usage" / "Extended Key Usage" to their values.
    static func extensions(_ cert: String) throws -> [String: String] {
        let out = try Shell.check("openssl", ["x509", "-in", cert, "-noout", "-ext", "keyUsage,extendedKeyUsage"],
                                  timeout: 30).out
        var result: [String: String] = [:]
        var current: String?
        for line in out.split(separator: "\n") {
            if line.first?.isWhitespace == false {
                let title = line.split(separator: ":").first.map(String.init) ?? ""
                current = title.replacingOccurrences(of: "X509v3 ", with: "").trimmingCharacters(in: .whitespaces)
            } else if let current {
                result[current, default: ""] += line.trimmingCharacters(in: .whitespaces)
            }
        }
        return result
    }

    /// The value of the first `key = "value"` line.
    static func tomlValue(_ text: String, key: String) -> String? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == key else { continue }
            return parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return nil
    }

    /// A self-signed RSA pair made by the openssl CLI, as a gateway's own would be.
    static func openSSLPair(in scratch: TemporaryDirectory) throws -> (key: String, cert: String) {
        let key = scratch.file("gw.key"), cert = scratch.file("gw.crt")
        try Shell.check("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=gw",
                                    "-keyout", key, "-out", cert, "-days", "30"], timeout: 60)
        _ = chmod(key, 0o600)
        return (key, cert)
    }

    static func curl(_ arguments: [String]) throws -> ProcessResult {
        try Shell.run("curl", ["-s", "--max-time", "5"] + arguments, timeout: 15)
    }

    static func tree(_ path: String) -> String {
        ((FileManager.default.enumerator(atPath: path)?.allObjects as? [String]) ?? []).joined(separator: ", ")
    }
}

final class SetupFailureTests: XCTestCase {
    func testFailedSetupLeavesNothingBehindSoItCanBeRunAgain() throws {
        let scratch = try TemporaryDirectory()
        let blocker = scratch.file("not-a-directory")
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        let dir = scratch.file("inst")
        let failed = try Shell.run(Paths.spoolrun, ["setup", "--dir", dir, "--www", blocker])
        XCTAssertNotEqual(failed.status, 0)
        XCTAssertTrue(failed.err.contains(blocker), failed.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir), "the half-made installation is removed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "-gateway"), "and the gateway folder it made beside it")
        XCTAssertEqual(try String(contentsOfFile: blocker, encoding: .utf8), "x", "nothing outside it is touched")

        let again = try Shell.run(Paths.spoolrun, ["setup", "--dir", dir])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/spoolrun.toml"))
    }
}
