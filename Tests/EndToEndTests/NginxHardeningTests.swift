// Issue 15, "nginx holds no secret" and "receipts cannot be flooded away": nginx, started from
// setup's config as a user of its own, can read nothing under keys/, state/, the spool or the
// gateway folder, and the portal still works in Chromium; setup leaves no gateway signing key
// inside the installation and `spoolrun run` warns while one is there; a key bundle's locator
// reaches no log; only token-shaped /r/ paths reach the receipt log, at a limited rate.
import Foundation
import TestSupport
import XCTest

final class NginxHardeningTests: XCTestCase {
    private var servers: [NginxServer] = []
    private var browser: WebDriver?

    static let bob = "bob@ext.test", bobPassword = "pw-bob-hardening-5Tq"

    override func tearDown() {
        browser?.quit()
        browser = nil
        for s in servers { s.stop() }
        servers = []
        super.tearDown()
    }

    /// An installation with one message for Bob (password known), swept, and nginx serving it.
    private func portal(subject: String = "Hardened") throws -> (TestInstallation, NginxServer) {
        guard NginxServer.nginxPath != nil else { throw MissingTool("nginx") }
        let port = try LocalPorts.free()
        let inst = try TestInstallation(listen: "127.0.0.1:\(port)")
        let original = Data("From: Alice <alice@corp.example>\r\nTo: \(Self.bob)\r\nSubject: \(subject)\r\nMIME-Version: 1.0\r\n\r\nBODY-\(subject)\r\n".utf8)
        try inst.deliver(try inst.wrap(original, arguments: ["--to", Self.bob, "--password", "\(Self.bob)=\(Self.bobPassword)"]),
                         name: "hardening-1")
        let sweep = try inst.sweep()
        XCTAssertEqual(sweep.status, 0, sweep.err)
        let server = try NginxServer(root: inst.root, port: port)
        servers.append(server)
        return (inst, server)
    }

    private func status(_ url: String) throws -> Int {
        Int(try Shell.run("curl", ["-s", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", url], timeout: 15).out) ?? 0
    }

    /// Statuses of `count` GETs of `url` made as fast as curl can, over one connection.
    private func burst(_ url: String, count: Int) throws -> [Int] {
        let r = try Shell.run("curl", ["-s", "--max-time", "20", "-w", "%{http_code}\\n"]
                                  + Array(repeating: ["-o", "/dev/null", url], count: count).flatMap { $0 }, timeout: 30)
        return r.out.split(separator: "\n").compactMap { Int($0) }
    }

    private func files(under dir: String) -> [String] {
        (FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? []).map { dir.appending(path: $0) }.filter {
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &isDir) && !isDir.boolValue
        }
    }

    /// Everything written under D/logs, as one text (waits briefly: nginx writes its log lines
    /// after the response).
    private func allLogs(_ inst: TestInstallation) -> String {
        usleep(300_000)
        return files(under: inst.root.appending(path: "logs")).map {
            String(decoding: FileManager.default.contents(atPath: $0) ?? Data(), as: UTF8.self)
        }.joined(separator: "\n")
    }

    // MARK: - nginx holds no secret

    func testNginxAsItsOwnUserCannotReadKeysStateSpoolOrTheGatewayFolderAndThePortalStillWorks() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root, to run nginx as a user of its own (nobody)") }
        guard let setpriv = Tools.which("setpriv") else { throw MissingTool("setpriv (util-linux)") }
        guard WebDriver.chromedriverPath != nil, WebDriver.chromiumPath != nil else { throw MissingTool("chromedriver or chromium") }
        let (inst, server) = try portal()
        let www = inst.root.appending(path: "www")

        let secrets = ["keys", "state", "spool"].flatMap { files(under: inst.root.appending(path: $0)) } + files(under: inst.gateway)
        for must in ["keys/tunnel-recipient.key", "keys/outbox.key", "spool/archive"] {
            XCTAssertTrue(secrets.contains { $0.contains(must) }, "the check covers \(must): \(secrets)")
        }
        XCTAssertTrue(secrets.contains(inst.gateway.appending(path: "gateway-sender.key")))
        XCTAssertTrue(secrets.contains { $0.hasPrefix(inst.root.appending(path: "state/")) })
        for (i, file) in secrets.enumerated() {
            // Directly, as nginx's user.
            let read = try Shell.run(setpriv, ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", file], timeout: 15)
            XCTAssertNotEqual(read.status, 0, "nginx's user can read \(file)")
            XCTAssertTrue(read.err.contains("Permission denied"), "\(file): \(read.err)")
            // Through nginx: a link placed in the web root is followed, and the system refuses
            // nginx the file (try_files then answers 404, a plain request 403).
            let link = www.appending(path: "leak-\(i)")
            XCTAssertEqual(symlink(file, link), 0)
            defer { unlink(link) }
            let answer = try status(server.base + "/leak-\(i)")
            XCTAssertTrue([403, 404].contains(answer), "nginx must not serve \(file) (got \(answer))")
        }
        usleep(300_000)
        let errors = server.logLines("nginx-error.log")
        for i in secrets.indices {
            XCTAssertTrue(errors.contains { $0.contains("/leak-\(i)\"") && $0.contains("(13: Permission denied)") },
                          "nginx was refused \(secrets[i]) by the system, not merely told it is missing: \(errors)")
        }
        XCTAssertTrue(server.isRunning, server.diagnostics())

        // The portal still works: sign in, open the message, see its body.
        let b = try WebDriver(downloadDirectory: inst.scratch.file("downloads"))
        browser = b
        try b.navigate(server.base + "/")
        try b.submitPortalSignIn(Self.bob, Self.bobPassword)
        let entry = try b.waitFor("#entries .entry", attempts: 300)
        XCTAssertTrue(try b.text(entry).contains("Hardened"))
        try b.click(entry)
        _ = try b.waitFor("#message-body", attempts: 150)
        let shown = try b.poll(attempts: 150) {
            ((try b.execute("return document.getElementById('message-body').srcdoc") as? String) ?? "").contains("BODY-Hardened")
        }
        XCTAssertTrue(shown, "the message body shows")
    }

    func testSetupWritesNoGatewayPrivateKeyInsideTheInstallationAndSaysWhereTheGatewayFolderIs() throws {
        let scratch = try TemporaryDirectory()
        let d = scratch.file("portal")
        let r = try Shell.run(Paths.spoolrun, ["setup", "--dir", d], timeout: 120)
        XCTAssertEqual(r.status, 0, r.err)
        let gateway = d + "-gateway"
        let key = try XCTUnwrap(FileManager.default.contents(atPath: gateway.appending(path: "gateway-sender.key")),
                                "the gateway's key is in D-gateway")
        XCTAssertTrue(r.out.contains(gateway), "setup names the gateway folder: \(r.out)")
        XCTAssertTrue(r.out.contains("delete it from this host"), r.out)
        for file in files(under: d) {
            XCTAssertNotEqual(FileManager.default.contents(atPath: file), key, "\(file) is the gateway's key")
            XCTAssertFalse((file as NSString).lastPathComponent.hasPrefix("gateway") && file.hasSuffix(".key"), file)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: d.appending(path: "gateway")), "no gateway folder inside D")
        var st = stat()
        XCTAssertEqual(stat(gateway, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o700, "the gateway folder is private")
        XCTAssertEqual(stat(d.appending(path: "run"), &st), 0, "D/run is made for nginx's pid and temporary files")

        // --gateway-dir puts it elsewhere, never inside the installation or its web root.
        let elsewhere = scratch.file("carry/gw")
        let d2 = scratch.file("portal2")
        let r2 = try Shell.run(Paths.spoolrun, ["setup", "--dir", d2, "--gateway-dir", elsewhere], timeout: 120)
        XCTAssertEqual(r2.status, 0, r2.err)
        XCTAssertTrue(r2.out.contains(elsewhere), r2.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: elsewhere.appending(path: "gateway.toml")))
        XCTAssertTrue(FileManager.default.fileExists(atPath: elsewhere.appending(path: "gateway-sender.key")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: d2 + "-gateway"))
        for inside in [scratch.file("portal3/gateway"), scratch.file("portal3/www/gw")] {
            let d3 = scratch.file("portal3")
            let refused = try Shell.run(Paths.spoolrun, ["setup", "--dir", d3, "--gateway-dir", inside], timeout: 120)
            XCTAssertNotEqual(refused.status, 0, "a gateway folder at \(inside) must be refused")
            XCTAssertTrue(refused.err.contains(inside) && refused.err.contains("--gateway-dir"), refused.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: d3), "nothing is made")
        }
    }

    func testRunWarnsWhileAGatewayPrivateKeyIsInsideTheInstallation() throws {
        let inst = try TestInstallation()
        let clean = try inst.sweep()
        XCTAssertEqual(clean.status, 0, clean.err)
        XCTAssertFalse(clean.err.contains("gateway private key"), "nothing to warn about: \(clean.err)")

        // What an older setup left: D/gateway/ with the signing key.
        let old = inst.root.appending(path: "gateway")
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: inst.gateway.appending(path: "gateway-sender.key"),
                                         toPath: old.appending(path: "gateway-sender.key"))
        let warned = try inst.sweep()
        XCTAssertEqual(warned.status, 0, "a warning, not a failure: \(warned.err)")
        let line = warned.err.split(separator: "\n").first { $0.contains("gateway private key") }
        XCTAssertNotNil(line, warned.err)
        XCTAssertTrue(line?.contains(old.appending(path: "gateway-sender.key")) == true, "the warning names the file: \(line ?? "")")

        try FileManager.default.removeItem(atPath: old)
        XCTAssertFalse(try inst.sweep().err.contains("gateway private key"), "gone once the key is")
    }

    func testSetupHandsNginxItsOwnUserLogsAndRunAndNothingElse() throws {
        guard geteuid() == 0 else { throw XCTSkip("--nginx-user needs root") }
        let scratch = try TemporaryDirectory()
        let d = scratch.file("portal")
        let r = try Shell.run(Paths.spoolrun, ["setup", "--dir", d, "--nginx-user", "nobody"], timeout: 120)
        XCTAssertEqual(r.status, 0, r.err)
        let nobody = try XCTUnwrap(getpwnam("nobody")).pointee.pw_uid
        var st = stat()
        for (sub, owned) in [("logs", true), ("run", true), ("keys", false), ("state", false), ("spool", false), ("www", false),
                             ("nginx.conf", false), ("spoolrun.toml", false)] {
            XCTAssertEqual(stat(d.appending(path: sub), &st), 0, sub)
            XCTAssertEqual(st.st_uid == nobody, owned, "D/\(sub) is\(owned ? "" : " not") nginx's")
        }
        XCTAssertEqual(stat(d.appending(path: "logs"), &st), 0)
        XCTAssertEqual(st.st_gid, getegid(), "the sweep's group keeps reading the receipt log")
        let notRoot = try Shell.run(Paths.spoolrun, ["setup", "--dir", scratch.file("p2"), "--nginx-user", "root"], timeout: 120)
        XCTAssertNotEqual(notRoot.status, 0, "nginx never runs as root")
        XCTAssertTrue(notRoot.err.contains("--nginx-user root"), notRoot.err)
    }

    // MARK: - Key-bundle locators reach no log

    func testKeyBundleRequestsAreLoggedWithoutTheirLocatorAndTheir404sNotAtAll() throws {
        let (inst, server) = try portal()
        let bundle = try XCTUnwrap(files(under: inst.root.appending(path: "www/k")).first)
        let locator = ((bundle as NSString).lastPathComponent as NSString).deletingPathExtension
        let missing = String(repeating: "Q", count: locator.count)
        XCTAssertEqual(try status(server.base + "/k/\(locator).json"), 200)
        XCTAssertEqual(try status(server.base + "/k/\(missing).json"), 404)
        // Past the rate limit too: refusals are not logged with the request either.
        let statuses = try burst(server.base + "/k/\(missing).json", count: 20)
        XCTAssertTrue(statuses.contains(429), "\(statuses)")

        let logs = allLogs(inst)
        XCTAssertFalse(logs.contains(locator), "a bundle's locator is in a log:\n\(logs)")
        XCTAssertFalse(logs.contains(missing), "a guessed locator is in a log:\n\(logs)")
        let access = String(decoding: FileManager.default.contents(atPath: inst.root.appending(path: "logs/access.log")) ?? Data(),
                            as: UTF8.self)
        let bundleLines = access.split(separator: "\n").filter { $0.contains("/k/-") }
        XCTAssertGreaterThanOrEqual(bundleLines.count, 22, "each bundle request is logged, as /k/-: \(access)")
        XCTAssertTrue(bundleLines.contains { $0.contains("\" 200 ") } && bundleLines.contains { $0.contains("\" 404 ") }
                      && bundleLines.contains { $0.contains("\" 429 ") }, "with its status: \(bundleLines)")
    }

    // MARK: - Receipts cannot be flooded away

    func testReceiptPathsThatAreNotTokenShapedAre404AndNeverReachTheReceiptLog() throws {
        let (inst, server) = try portal()
        let token = "AbCdEfGhIjKlMnOpQr-_01"
        XCTAssertEqual(token.count, 22)
        for path in ["/r/", "/r/short", "/r/\(token)x", "/r/\(token)/x", "/r/\(token.dropLast())", "/r/\(token).json",
                     "/r/\(token)%20extra", "/r/\(String(repeating: "A", count: 64))", "/r/%41\(token.dropFirst())x"] {
            XCTAssertEqual(try status(server.base + path), 404, path)
        }
        XCTAssertEqual(try status(server.base + "/r/\(token)"), 204)
        usleep(300_000)
        let receipts = String(decoding: FileManager.default.contents(atPath: inst.root.appending(path: "logs/receipts.log")) ?? Data(),
                              as: UTF8.self)
        let lines = receipts.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "only the token-shaped read: \(receipts)")
        XCTAssertTrue(lines.first?.hasSuffix(" /r/\(token)") == true, receipts)
    }

    func testReceiptReadsAreRateLimitedPerClientAndRefusedOnesStayOutOfTheReceiptLog() throws {
        let (inst, server) = try portal()
        let statuses = try burst(server.base + "/r/AbCdEfGhIjKlMnOpQr-_01", count: 60)
        XCTAssertEqual(statuses.count, 60)
        XCTAssertEqual(Array(statuses.prefix(10)), Array(repeating: 204, count: 10), "a reader's reads are answered: \(statuses)")
        XCTAssertGreaterThanOrEqual(statuses.filter { $0 == 429 }.count, 30, "a flood is refused with 429: \(statuses)")
        XCTAssertEqual(Set(statuses), [204, 429])
        usleep(300_000)
        let receipts = String(decoding: FileManager.default.contents(atPath: inst.root.appending(path: "logs/receipts.log")) ?? Data(),
                              as: UTF8.self)
        XCTAssertEqual(receipts.split(separator: "\n").count, statuses.filter { $0 == 204 }.count,
                       "only answered reads are logged")
        XCTAssertFalse(allLogs(inst).contains("limiting requests"), "refusals do not put tokens into the error log")
    }
}
