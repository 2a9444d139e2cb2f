// Production deployment (issue 6, item 7): the systemd units under deploy/systemd, the
// logrotate snippet, `make install`, and the man page. Every tool is real; a missing one fails
// the test (MissingTool), never skips it.
//
// Adaptations, stated where they are made:
// - `systemd-analyze verify` insists that ExecStart's binary exists and runs `man spoolrun(8)`
//   for Documentation=. The units are therefore verified as `make install PREFIX=<scratch>`
//   writes them (ExecStart = <scratch>/bin/spoolrun, an installed copy of the built binary),
//   with MANPATH at the installed man page. Nothing else in them is changed.
// - `systemd-analyze security --offline=true` rates the unit file exactly as shipped.
// - No systemd runs as PID 1 here, so the unit is not started. The settings that could break
//   the Swift binary itself are reproduced around a real sweep instead: the unit's UMask=,
//   no_new_privs (NoNewPrivileges=), PR_SET_MDWE (the kernel's form of
//   MemoryDenyWriteExecute=) and a /proc mounted with subset=pid,hidepid=invisible
//   (ProcSubset=pid, ProtectProc=invisible).
import Foundation
import TestSupport
import XCTest

final class DeploymentTests: XCTestCase {
    static let units = ["spoolrun.service", "spoolrun.timer", "spoolrun.path"]
    static let dropIns = ["postfix-sendmail.conf", "msmtp-relay.conf"]
    var repo: String { Paths.repo }
    var nginx: NginxServer?

    override func tearDown() {
        nginx?.stop()
        nginx = nil
        super.tearDown()
    }

    // MARK: - Helpers

    func tool(_ name: String, package: String) throws -> String {
        guard let path = Tools.which(name) else { throw MissingTool("\(name) (\(package))") }
        return path
    }

    /// `make install` into a scratch tree with the binary the tests were built with (no release
    /// build): returns the installed PREFIX as seen on disk (DESTDIR + PREFIX).
    @discardableResult
    func makeInstall(destdir: String, prefix: String, logrotateDir: String) throws -> (root: String, output: ProcessResult) {
        let make = try tool("make", package: "make")
        let r = try Shell.run(make, ["-C", repo, "install", "DESTDIR=\(destdir)", "PREFIX=\(prefix)", "BIN=\(Paths.spoolrun)",
                                     "LOGROTATEDIR=\(logrotateDir)"], timeout: 120)
        XCTAssertEqual(r.status, 0, "make install failed: \(r.out)\n\(r.err)")
        return (destdir + prefix, r)
    }

    /// The value lines `Key=value` of a unit file (repeated keys in order).
    func settings(_ text: String) -> [(String, String)] {
        text.split(separator: "\n").compactMap { line -> (String, String)? in
            let l = line.trimmingCharacters(in: .whitespaces)
            guard !l.hasPrefix("#"), !l.hasPrefix("["), let eq = l.firstIndex(of: "=") else { return nil }
            return (String(l[..<eq]), String(l[l.index(after: eq)...]))
        }
    }

    func unitText(_ name: String) throws -> String {
        try String(contentsOfFile: repo.appending(path: "deploy/systemd/\(name)"), encoding: .utf8)
    }

    func value(_ key: String, in text: String) -> String? { settings(text).last { $0.0 == key }?.1 }

    /// `systemd-analyze security --offline=true FILE`: the overall exposure and the full table.
    func exposure(of unitFile: String) throws -> (score: Double, table: String) {
        let analyze = try tool("systemd-analyze", package: "systemd")
        let r = try Shell.run(analyze, ["security", "--offline=true", "--no-pager", unitFile],
                              directory: (unitFile as NSString).deletingLastPathComponent, timeout: 60)
        let text = r.out + r.err
        guard let line = text.split(separator: "\n").last(where: { $0.contains("Overall exposure level") }),
              let number = line.split(separator: ":").last?.split(separator: " ").first, let score = Double(number) else {
            throw ShellError(command: "systemd-analyze security --offline=true \(unitFile) printed no exposure level", result: r)
        }
        return (score, text)
    }

    // MARK: - systemd

    func testEachUnitAndEachDropInExamplePassesSystemdAnalyzeVerify() throws {
        let analyze = try tool("systemd-analyze", package: "systemd")
        _ = try tool("man", package: "man-db")
        let scratch = try TemporaryDirectory("spoolrun-verify")
        let prefix = scratch.file("prefix")
        let (root, _) = try makeInstall(destdir: "", prefix: prefix, logrotateDir: scratch.file("logrotate.d"))
        let unitDir = root.appending(path: "lib/systemd/system")
        let env = ["MANPATH": root.appending(path: "share/man"), "SYSTEMD_PAGER": "cat"]
        for unit in Self.units {
            let text = try String(contentsOfFile: unitDir.appending(path: unit), encoding: .utf8)
            XCTAssertFalse(text.contains("/usr/local/bin/spoolrun"), "\(unit): make install must write PREFIX into it")
            let r = try Shell.run(analyze, ["verify", unitDir.appending(path: unit)], environment: env, directory: scratch.path,
                                  timeout: 60)
            XCTAssertEqual(r.status, 0, "systemd-analyze verify \(unit): \(r.out)\(r.err)")
            XCTAssertEqual((r.out + r.err).trimmingCharacters(in: .whitespacesAndNewlines), "",
                           "systemd-analyze verify \(unit) must print no warning")
        }
        let service = try String(contentsOfFile: unitDir.appending(path: "spoolrun.service"), encoding: .utf8)
        XCTAssertEqual(value("ExecStart", in: service), "\(prefix)/bin/spoolrun run --config /etc/spoolrun/spoolrun.toml")

        // Each drop-in example, applied to the service the way an administrator would.
        for dropIn in Self.dropIns {
            let dir = scratch.file("with-\(dropIn)")
            try FileManager.default.createDirectory(atPath: dir + "/spoolrun.service.d", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: unitDir.appending(path: "spoolrun.service"), toPath: dir + "/spoolrun.service")
            try FileManager.default.copyItem(atPath: root.appending(path: "share/spoolrun/systemd/\(dropIn)"),
                                             toPath: dir + "/spoolrun.service.d/\(dropIn)")
            let r = try Shell.run(analyze, ["verify", dir + "/spoolrun.service"], environment: env, directory: dir, timeout: 60)
            XCTAssertEqual(r.status, 0, "systemd-analyze verify with \(dropIn): \(r.out)\(r.err)")
        }
    }

    /// The target of issue 6 is 2.0 or below. What the analysis still counts against the shipped
    /// unit (0.3 in all), each kept on purpose and explained in docs/operations.md:
    /// - SystemCallFilter=~@resources: allowed, because Postfix's sendmail/postdrop (which run
    ///   inside the service) call setrlimit() and exit when it fails;
    /// - RootDirectory=/RootImage=: the binary links the system's OpenSSL, GMime, libxml2,
    ///   libharu and qpdf; a private root image would have to be maintained beside the host;
    /// - RestrictAddressFamilies=~AF_UNIX: local sockets stay allowed (syslog of the mail command);
    /// - DeviceAllow=: char-rtc:r, which ProtectClock= itself adds.
    func testServiceExposureScoreIsAtMostTwoWithAndWithoutTheDropIns() throws {
        let shipped = repo.appending(path: "deploy/systemd/spoolrun.service")
        let (score, table) = try exposure(of: shipped)
        print("systemd-analyze security --offline=true deploy/systemd/spoolrun.service:\n\(table)")
        print("spoolrun.service exposure: \(score)")
        XCTAssertLessThanOrEqual(score, 2.0, table)
        // The items left (see above) and nothing else.
        let open = table.split(separator: "\n").filter { $0.hasPrefix("✗") }
            .map { $0.dropFirst(2).split(separator: " ").first.map(String.init) ?? "" }
        XCTAssertEqual(Set(open), ["SystemCallFilter=~@resources", "RootDirectory=/RootImage=", "RestrictAddressFamilies=~AF_UNIX",
                                   "DeviceAllow="], table)

        let scratch = try TemporaryDirectory("spoolrun-security")
        for dropIn in Self.dropIns {
            let dir = scratch.file(dropIn)
            try FileManager.default.createDirectory(atPath: dir + "/spoolrun.service.d", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: shipped, toPath: dir + "/spoolrun.service")
            try FileManager.default.copyItem(atPath: repo.appending(path: "deploy/systemd/examples/\(dropIn)"),
                                             toPath: dir + "/spoolrun.service.d/\(dropIn)")
            let (withDropIn, t) = try exposure(of: dir + "/spoolrun.service")
            print("spoolrun.service + \(dropIn) exposure: \(withDropIn)")
            XCTAssertGreaterThan(withDropIn, score, "the drop-in \(dropIn) must be read by the analysis: \(t)")
            XCTAssertLessThanOrEqual(withDropIn, 2.0, t)
        }
    }

    func testServiceIsAOneshotSweepAsADedicatedUserWritingOnlyTheSpoolWebRootStateAndLogs() throws {
        let s = try unitText("spoolrun.service")
        let required: [(String, String)] = [
            ("Type", "oneshot"), ("User", "spoolrun"), ("Group", "spoolrun"),
            ("ExecStart", "/usr/local/bin/spoolrun run --config /etc/spoolrun/spoolrun.toml"),
            ("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"), ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
            ("ProtectHome", "yes"), ("CapabilityBoundingSet", ""), ("RestrictAddressFamilies", "AF_UNIX"),
            ("PrivateNetwork", "yes"), ("IPAddressDeny", "any"), ("MemoryDenyWriteExecute", "yes"),
            ("SystemCallArchitectures", "native"), ("ProtectProc", "invisible"), ("ProcSubset", "pid"),
        ]
        for (key, expected) in required {
            XCTAssertEqual(value(key, in: s), expected, key)
        }
        XCTAssertEqual(settings(s).filter { $0.0 == "SystemCallFilter" }.map(\.1), ["@system-service", "~@privileged"])
        let writable = settings(s).filter { $0.0 == "ReadWritePaths" }.flatMap { $0.1.split(separator: " ").map(String.init) }
        XCTAssertEqual(writable, ["/var/spool/spoolrun", "/var/lib/spoolrun/www", "/var/lib/spoolrun/state", "/var/log/spoolrun"])

        // The other deployment files agree with that layout.
        let path = try unitText("spoolrun.path"), timer = try unitText("spoolrun.timer")
        XCTAssertEqual(value("PathChanged", in: path), "/var/spool/spoolrun/new")
        XCTAssertEqual(value("Unit", in: path), "spoolrun.service")
        XCTAssertEqual(value("Unit", in: timer), "spoolrun.service")
        XCTAssertEqual(value("Persistent", in: timer), "true")
        let analyze = try tool("systemd-analyze", package: "systemd")
        let calendar = try Shell.check(analyze, ["calendar", "--iterations=2", value("OnCalendar", in: timer) ?? ""], timeout: 30).out
        let nexts = calendar.split(separator: "\n").filter { $0.contains("Iter. #") || $0.contains("Next elapse") }
        XCTAssertTrue(calendar.contains("Normalized form: *-*-* *:*:00"), "the timer fires every minute: \(calendar)")
        XCTAssertEqual(nexts.count, 2, calendar)
        let site = try String(contentsOfFile: repo.appending(path: "deploy/nginx/spoolrun.conf"), encoding: .utf8)
        XCTAssertTrue(site.contains("root /var/lib/spoolrun/www;"), "the nginx site serves the web root the unit writes")
        XCTAssertTrue(site.contains("access_log /var/log/spoolrun/receipts.log spoolrun_receipt if=$spoolrun_receipt_answered;"))
        let logrotate = try String(contentsOfFile: repo.appending(path: "deploy/logrotate/spoolrun"), encoding: .utf8)
        XCTAssertTrue(logrotate.contains("/var/log/spoolrun/receipts.log {"))
    }

    // MARK: - Sandbox settings against a real sweep

    /// spoolrun sets the mode of each file and directory it writes (0644 under www/,
    /// directories 0755 including the missing parents of a new mailbox, www/m/ and
    /// www/m/MAILBOX/; keys 0600), so the unit's UMask=0077 cannot hide a mailbox from nginx,
    /// another user. (Before FileSystem.makeDirectory made parents itself they came out 0700
    /// under that umask and nginx answered 403 for every mailbox.) The sweep
    /// here runs as root with the unit's own UMask= value (read from the file), after nginx has
    /// started as `nobody`: nginx reads the new files through their "other" bits only.
    func testSweepUnderTheServiceSandboxLeavesEveryWebRootFileReadableToNginx() throws {
        let unshare = try tool("unshare", package: "util-linux")
        let python = try tool("python3", package: "python3")
        guard geteuid() == 0 else {
            XCTFail("this test mounts a private /proc and needs root (make test runs as root)")
            return
        }
        let umask = try XCTUnwrap(value("UMask", in: try unitText("spoolrun.service")))
        let port = try LocalPorts.free()
        let inst = try TestInstallation(listen: "127.0.0.1:\(port)")
        let server = try NginxServer(root: inst.root, port: port)
        nginx = server

        let tunnel = try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test", "--read-receipt"])
        try inst.deliver(tunnel, name: "1700000000.sandbox.portal")
        let helper = inst.scratch.file("sandbox.py")
        try """
            import ctypes, os, sys
            libc = ctypes.CDLL(None, use_errno=True)
            os.umask(int(sys.argv[1], 8))
            if libc.prctl(38, 1, 0, 0, 0) != 0:   # PR_SET_NO_NEW_PRIVS: NoNewPrivileges=yes
                sys.exit("PR_SET_NO_NEW_PRIVS failed: errno %d" % ctypes.get_errno())
            if libc.prctl(65, 1, 0, 0, 0) != 0:   # PR_SET_MDWE, REFUSE_EXEC_GAIN: MemoryDenyWriteExecute=yes
                sys.exit("PR_SET_MDWE failed (Linux 6.3 or later needed): errno %d" % ctypes.get_errno())
            if libc.prctl(66, 0, 0, 0, 0) != 1:   # PR_GET_MDWE
                sys.exit("PR_SET_MDWE did not stick")
            os.execv(sys.argv[2], sys.argv[2:])
            """.write(toFile: helper, atomically: true, encoding: .utf8)
        // ProcSubset=pid and ProtectProc=invisible: a /proc of this PID namespace, pids only.
        let script = "mount -t proc -o subset=pid,hidepid=invisible proc /proc && exec \"$@\""
        let r = try Shell.run(unshare, ["--mount", "--pid", "--fork", "/bin/sh", "-c", script, "sh",
                                        python, helper, umask, Paths.spoolrun, "run", "--config", inst.config], timeout: 120)
        XCTAssertEqual(r.status, 0, "the sweep must run under the sandbox settings: \(r.err)")
        XCTAssertEqual(inst.names(in: "failed"), [], r.err)
        XCTAssertEqual(inst.names(in: "archive").count, 1, r.err)

        // Every file under www/ is served to nginx (nobody), and every mode allows it.
        let www = inst.root.appending(path: "www")
        let enumerator = try XCTUnwrap(FileManager.default.enumerator(atPath: www))
        var served = 0
        var mailboxFiles = 0
        while let relative = enumerator.nextObject() as? String {
            let path = www.appending(path: relative)
            var st = stat()
            XCTAssertEqual(lstat(path, &st), 0, path)
            let mode = st.st_mode & 0o7777
            if st.st_mode & S_IFMT == S_IFDIR {
                XCTAssertEqual(mode & 0o005, 0o005, "\(relative)/ is \(String(mode, radix: 8)): nginx cannot enter it (umask \(umask))")
                continue
            }
            XCTAssertEqual(mode & 0o004, 0o004, "\(relative) is \(String(mode, radix: 8)): nginx cannot read it")
            guard relative.hasPrefix("m/") || relative.hasPrefix("k/") || relative == "index.html" else { continue }
            if relative.hasPrefix("m/") { mailboxFiles += 1 }
            let code = try Shell.run("curl", ["-s", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                                              "\(server.base)/\(relative)"], timeout: 15).out
            XCTAssertEqual(code, "200", "nginx must serve /\(relative) written by the sandboxed sweep")
            served += 1
        }
        XCTAssertGreaterThanOrEqual(mailboxFiles, 3, "index.json, body and eml of the new mailbox")
        XCTAssertGreaterThan(served, mailboxFiles)
    }

    // MARK: - logrotate

    func testLogrotateSnippetIsTheOneInTheDocsAndRotatesTheReceiptLog() throws {
        let logrotate = try tool("logrotate", package: "logrotate")
        let snippet = try String(contentsOfFile: repo.appending(path: "deploy/logrotate/spoolrun"), encoding: .utf8)
        let docs = try String(contentsOfFile: repo.appending(path: "docs/operations.md"), encoding: .utf8)
        // The fenced block under "Rotating the logs" is the snippet's content, byte for byte.
        let section = try XCTUnwrap(docs.range(of: "### Rotating the logs"), "docs/operations.md lost its section")
        let rest = docs[section.upperBound...]
        let open = try XCTUnwrap(rest.range(of: "```\n"))
        let close = try XCTUnwrap(rest[open.upperBound...].range(of: "```"))
        let block = String(rest[open.upperBound..<close.lowerBound])
        XCTAssertTrue(block.hasPrefix("/var/log/spoolrun/receipts.log {"), block)
        let body = snippet.split(separator: "\n", omittingEmptySubsequences: false).drop { $0.hasPrefix("#") }.joined(separator: "\n")
        XCTAssertEqual(body, block, "deploy/logrotate/spoolrun and docs/operations.md must hold the same block")

        // A copy whose paths point into a scratch folder: -d parses it, then a forced run
        // rotates, and postrotate signals the "nginx" of the pid file (a shell that ignores
        // USR1, as nginx reopens its logs on it).
        let scratch = try TemporaryDirectory("spoolrun-logrotate")
        let logs = scratch.file("log"), run = scratch.file("run")
        for d in [logs, run] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let log = logs.appending(path: "receipts.log")
        try "2026-11-25T10:00:00+00:00 /r/AAAA\n".write(toFile: log, atomically: true, encoding: .utf8)
        let conf = scratch.file("spoolrun.logrotate")
        try snippet.replacingOccurrences(of: "/var/log/spoolrun/", with: logs + "/")
            .replacingOccurrences(of: "/run/nginx.pid", with: run + "/nginx.pid")
            .write(toFile: conf, atomically: true, encoding: .utf8)
        let state = scratch.file("logrotate.state")
        let debug = try Shell.run(logrotate, ["-d", "-s", state, conf], timeout: 60)
        XCTAssertEqual(debug.status, 0, "logrotate -d: \(debug.out)\(debug.err)")
        XCTAssertFalse((debug.out + debug.err).lowercased().contains("error"), debug.out + debug.err)

        let nginxStandIn = Process()
        nginxStandIn.executableURL = URL(fileURLWithPath: "/bin/sh")
        let marker = scratch.file("usr1")
        nginxStandIn.arguments = ["-c", "trap 'touch \(marker)' USR1; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done"]
        try nginxStandIn.run()
        defer {
            if nginxStandIn.isRunning { nginxStandIn.terminate() }
            nginxStandIn.waitUntilExit()
        }
        try "\(nginxStandIn.processIdentifier)\n".write(toFile: run + "/nginx.pid", atomically: true, encoding: .utf8)
        let forced = try Shell.run(logrotate, ["-f", "-s", state, conf], timeout: 60)
        XCTAssertEqual(forced.status, 0, "logrotate -f: \(forced.out)\(forced.err)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: log + ".1"), "renamed to receipts.log.1, kept uncompressed (delaycompress)")
        var waited = 0
        while !FileManager.default.fileExists(atPath: marker) && waited < 50 {
            usleep(100_000)
            waited += 1
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "postrotate must send USR1 to the pid in nginx.pid")
    }

    // MARK: - make install

    func testMakeInstallThenSetupFromTheInstalledTreeGivesAWorkingInstallationOutsideTheRepository() throws {
        let scratch = try TemporaryDirectory("spoolrun-install")
        let dest = scratch.file("dest")
        let started = Date()
        let (installed, _) = try makeInstall(destdir: dest, prefix: "/usr/local", logrotateDir: "/etc/logrotate.d")
        print("make install (BIN=\(Paths.spoolrun)) took \(String(format: "%.1f", Date().timeIntervalSince(started))) s")

        // What is installed where.
        var st = stat()
        XCTAssertEqual(stat(installed + "/bin/spoolrun", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o755)
        let share = installed + "/share/spoolrun"
        let appFiles = ["index.html"] + (try FileManager.default.contentsOfDirectory(atPath: repo + "/www/assets"))
            .filter { !$0.hasPrefix(".") }.map { "assets/" + $0 }
        for f in appFiles {
            XCTAssertEqual(FileManager.default.contents(atPath: share + "/www/" + f), FileManager.default.contents(atPath: repo + "/www/" + f), f)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: share + "/www/m"), "rendered mailboxes are never installed")
        let templates = try FileManager.default.contentsOfDirectory(atPath: repo + "/Sources/Render/Templates").sorted()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: share + "/templates").sorted(), templates)
        for f in ["nginx/spoolrun.conf", "logrotate/spoolrun"] + Self.dropIns.map({ "systemd/" + $0 }) {
            XCTAssertTrue(FileManager.default.fileExists(atPath: share + "/" + f), f)
        }
        for u in Self.units {
            let text = try String(contentsOfFile: installed + "/lib/systemd/system/" + u, encoding: .utf8)
            XCTAssertEqual(text, try unitText(u), "\(u): with PREFIX=/usr/local the unit is installed as shipped")
        }
        XCTAssertEqual(FileManager.default.contents(atPath: dest + "/etc/logrotate.d/spoolrun"),
                       FileManager.default.contents(atPath: repo + "/deploy/logrotate/spoolrun"))
        XCTAssertEqual(FileManager.default.contents(atPath: installed + "/share/man/man8/spoolrun.8"),
                       FileManager.default.contents(atPath: repo + "/docs/spoolrun.8"))

        // The installed tree, moved elsewhere: the binary finds its app through
        // PREFIX/share/spoolrun/www beside it, not through the source tree.
        let elsewhere = scratch.file("opt")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: installed, toPath: elsewhere + "/spoolrun")
        let bin = elsewhere + "/spoolrun/bin/spoolrun"
        let cwd = scratch.file("cwd")
        try FileManager.default.createDirectory(atPath: cwd, withIntermediateDirectories: true)
        let env = ["SPOOLRUN_APP": "", "SPOOLRUN_CONFIG": ""]
        let port = try LocalPorts.free()
        let inst = scratch.file("portal")
        let setup = try Shell.run(bin, ["setup", "--dir", inst, "--listen", "127.0.0.1:\(port)"], environment: env, directory: cwd)
        XCTAssertEqual(setup.status, 0, "installed spoolrun setup: \(setup.err)")
        guard setup.status == 0 else { return }
        for f in appFiles {
            XCTAssertEqual(FileManager.default.contents(atPath: inst + "/www/" + f),
                           FileManager.default.contents(atPath: elsewhere + "/spoolrun/share/spoolrun/www/" + f), f)
        }

        // A tunnel message made by the installed `wrap` is accepted by the installed `run`.
        let tunnel = try Shell.run(bin, ["wrap", "--config", inst + "-gateway/gateway.toml", "--to", "bob@ext.test"],
                                   stdin: TestInstallation.sampleOriginal, environment: env, directory: cwd)
        XCTAssertEqual(tunnel.status, 0, tunnel.err)
        try tunnel.stdout.write(to: URL(fileURLWithPath: inst + "/spool/tmp/1700000000.install.portal"))
        XCTAssertEqual(rename(inst + "/spool/tmp/1700000000.install.portal", inst + "/spool/new/1700000000.install.portal"), 0)
        let sweep = try Shell.run(bin, ["run", "--config", inst + "/spoolrun.toml"], environment: env, directory: cwd)
        XCTAssertEqual(sweep.status, 0, sweep.err)
        let archive = try FileManager.default.contentsOfDirectory(atPath: inst + "/spool/archive")
        XCTAssertEqual(archive.count, 1, "accepted: \(sweep.err)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: inst + "/spool/failed"), [], sweep.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: inst + "/www/m"), "a mailbox was written")

        // nginx from the generated config serves the installed app.
        let server = try NginxServer(root: inst, port: port)
        nginx = server
        let page = try Shell.check("curl", ["-s", "--max-time", "5", server.base + "/index.html"], timeout: 15).stdout
        XCTAssertEqual(page, FileManager.default.contents(atPath: repo + "/www/index.html"))

        // The installed man page renders.
        let man = try tool("man", package: "man-db")
        let page8 = try Shell.run(man, ["-l", elsewhere + "/spoolrun/share/man/man8/spoolrun.8"], environment: ["MANPAGER": "cat", "MANWIDTH": "80"])
        XCTAssertEqual(page8.status, 0, page8.err)
        XCTAssertTrue(page8.out.contains("spoolrun setup"), page8.out)
    }

    func testUninstallRemovesWhatInstallPutThere() throws {
        let scratch = try TemporaryDirectory("spoolrun-uninstall")
        let dest = scratch.file("dest")
        try makeInstall(destdir: dest, prefix: "/usr/local", logrotateDir: "/etc/logrotate.d")
        let make = try tool("make", package: "make")
        let r = try Shell.run(make, ["-C", repo, "uninstall", "DESTDIR=\(dest)", "PREFIX=/usr/local", "LOGROTATEDIR=/etc/logrotate.d"],
                              timeout: 60)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let left = (FileManager.default.enumerator(atPath: dest)?.allObjects as? [String] ?? []).filter {
            var st = stat()
            return lstat(dest + "/" + $0, &st) == 0 && st.st_mode & S_IFMT != S_IFDIR
        }
        XCTAssertEqual(left, [], "files left after make uninstall")
    }

    // MARK: - man page

    func testManPageRendersWithoutWarningsAndNamesEveryCommandAndOption() throws {
        let groff = try tool("groff", package: "groff-base")
        let page = repo.appending(path: "docs/spoolrun.8")
        let r = try Shell.run(groff, ["-man", "-Tutf8", "-ww", "-P-cbou", page], environment: ["LC_ALL": "C.UTF-8"], timeout: 60)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.err, "", "groff warnings")
        // Plain text (-P-cbou: no bold, underline or overstrike); hyphens as ASCII.
        let text = r.out.replacingOccurrences(of: "\u{2010}", with: "-").replacingOccurrences(of: "\u{2212}", with: "-")
        // Every command and option the binary's own --help lists is in the page.
        var missing: [String] = []
        let optionPattern = try NSRegularExpression(pattern: "--[a-z][a-z0-9-]*")
        let commands: [[String]] = [["setup"], ["run"], ["wrap"], ["reprocess"], ["status"], ["outbox", "list"], ["outbox", "show"], ["outbox", "retry"],
                                    ["recall"], ["recipient", "list"], ["recipient", "reset"], ["recipient", "delete"], ["gateway", "filter"]]
        for command in commands {
            let help = try Shell.run(Paths.spoolrun, command + ["--help"], timeout: 30)
            XCTAssertEqual(help.status, 0, "\(command) --help: \(help.err)")
            XCTAssertTrue(text.contains("spoolrun " + command.joined(separator: " ")), "synopsis of \(command)")
            let found = optionPattern.matches(in: help.out, range: NSRange(help.out.startIndex..., in: help.out))
            let options = Set(found.compactMap { Range($0.range, in: help.out).map { String(help.out[$0]) } }).subtracting(["--help"])
            for option in options where !text.contains(option) { missing.append("\(command.joined(separator: " ")) \(option)") }
        }
        XCTAssertEqual(missing, [], "options missing from docs/spoolrun.8")
        for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES", "SEE ALSO"] {
            XCTAssertTrue(text.contains("\n\(heading)\n"), heading)
        }
    }
}
