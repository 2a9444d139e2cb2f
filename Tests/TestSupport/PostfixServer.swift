// A private Postfix instance for the gateway tests (issue 7): Debian's postfix package, run
// in the foreground (`postfix start-fg`) from its own config and queue directories under a
// temporary folder, listening on 127.0.0.1 only:
//   - `filterPort`: an smtpd with `content_filter=spoolrunfilter:dummy`, where mail comes in;
//   - `reinjectPort`: an smtpd with `content_filter=` where the filter hands mail back
//     (docs/gateway.md's second smtpd, as 127.0.0.1:10026 there);
//   - the pipe(8) service `spoolrunfilter`, running the given command as `nobody`;
//   - everything relayed to `relayPort` (the tests' SMTP sink), no DNS, no local delivery.
// Retries happen only when a test flushes the queue (back-off 300 s), so runs are
// deterministic. The master must run as root (it drops privileges per service).
import Foundation

public final class PostfixServer {
    public let base: String
    public let configDirectory: String
    public let filterPort: Int
    public let reinjectPort: Int
    /// A sendmail-compatible command that submits to `filterPort` (msmtp, as root).
    public let submitCommand: String
    /// A sendmail-compatible command for the pipe user that re-injects at `reinjectPort`.
    public let reinjectCommand: String
    public var logFile: String { base.appending(path: "maillog") }
    private let process: Process

    public static var postfixPath: String? { Tools.which("postfix") ?? (FileManager.default.isExecutableFile(atPath: "/usr/sbin/postfix") ? "/usr/sbin/postfix" : nil) }

    /// `filterArgv` is the pipe(8) argv after `argv=`, e.g. "/path/spoolrun gateway filter
    /// --config F -f ${sender} -- ${recipient}"; every path in it must be readable by nobody.
    /// `extraMain` is appended to main.cf (a later line overrides an earlier one).
    public init(base: String, relayPort: Int, filterArgv: String, extraMain: String = "") throws {
        guard let postfix = Self.postfixPath else { throw MissingTool("postfix") }
        guard geteuid() == 0 else { throw MissingTool("root: Postfix's master must start as root") }
        self.base = base
        configDirectory = base.appending(path: "conf")
        filterPort = try LocalPorts.free()
        var reinject = try LocalPorts.free()
        for _ in 0..<10 where reinject == filterPort { reinject = try LocalPorts.free() }
        reinjectPort = reinject
        let queue = base.appending(path: "queue")
        for dir in [base, configDirectory, queue] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            chmod(dir, 0o755)
        }
        FileManager.default.createFile(atPath: base.appending(path: "maillog"), contents: nil)

        // Under `make test-asan` the filter Postfix runs is the ASan build's spoolrun: pass the
        // sanitizer settings (and with them the leak suppressions) through Postfix, which
        // otherwise gives its commands a clean environment.
        let sanitizerVariables = ["ASAN_OPTIONS", "LSAN_OPTIONS"].filter { ProcessInfo.processInfo.environment[$0] != nil }
        let sanitizerEnvironment = sanitizerVariables.isEmpty ? "" : """
            import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME \(sanitizerVariables.joined(separator: " "))
            export_environment = TZ MAIL_CONFIG LANG \(sanitizerVariables.joined(separator: " "))

            """
        var main = """
            compatibility_level = 3.6
            queue_directory = \(queue)
            data_directory = \(base.appending(path: "data"))
            mail_owner = postfix
            setgid_group = postdrop
            maillog_file = \(base.appending(path: "maillog"))
            maillog_file_prefixes = \(base)
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            myhostname = gateway.test
            mydomain = test
            myorigin = $myhostname
            mynetworks = 127.0.0.0/8
            mydestination =
            local_recipient_maps =
            local_transport = error:5.1.1 local delivery disabled
            alias_maps =
            alias_database =
            relay_domains =
            relayhost = [127.0.0.1]:\(relayPort)
            default_transport = smtp
            relay_transport = smtp
            smtp_host_lookup = native
            smtp_dns_support_level = disabled
            smtpd_relay_restrictions = permit_mynetworks, reject
            smtpd_recipient_restrictions =
            smtp_tls_security_level = none
            smtpd_tls_security_level = none
            disable_mime_output_conversion = yes
            biff = no
            queue_run_delay = 300s
            minimal_backoff_time = 300s
            maximal_backoff_time = 600s
            delay_warning_time = 0
            \(sanitizerEnvironment)
            """
        // A parameter that `extraMain` sets replaces the default line (postconf warns about
        // a parameter set twice).
        let overridden = Set(extraMain.split(separator: "\n").compactMap { line -> String? in
            guard let first = line.first, !first.isWhitespace, let eq = line.firstIndex(of: "=") else { return nil }
            return line[..<eq].trimmingCharacters(in: .whitespaces)
        })
        main = main.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            guard let eq = line.firstIndex(of: "=") else { return true }
            return !overridden.contains(line[..<eq].trimmingCharacters(in: .whitespaces))
        }.joined(separator: "\n") + "\n" + extraMain + "\n"
        let master = """
            127.0.0.1:\(filterPort) inet n - n - - smtpd
              -o content_filter=spoolrunfilter:dummy
            127.0.0.1:\(reinjectPort) inet n - n - - smtpd
              -o content_filter=
              -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
            pickup    unix  n - n 60 1 pickup
            cleanup   unix  n - n - 0 cleanup
            qmgr      unix  n - n 300 1 qmgr
            rewrite   unix  - - n - - trivial-rewrite
            bounce    unix  - - n - 0 bounce
            defer     unix  - - n - 0 bounce
            trace     unix  - - n - 0 bounce
            verify    unix  - - n - 1 verify
            flush     unix  n - n 1000? 0 flush
            proxymap  unix  - - n - - proxymap
            smtp      unix  - - n - - smtp
            relay     unix  - - n - - smtp
            showq     unix  n - n - - showq
            error     unix  - - n - - error
            retry     unix  - - n - - error
            discard   unix  - - n - - discard
            anvil     unix  - - n - 1 anvil
            scache    unix  - - n - 1 scache
            postlog   unix-dgram n - n - 1 postlogd
            spoolrunfilter unix - n n - 10 pipe
              flags=Rq user=nobody null_sender= argv=\(filterArgv)

            """
        for (name, text) in [("main.cf", main), ("master.cf", master)] {
            let path = configDirectory.appending(path: name)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o644)
            // Postfix waits until a just-written config file is a second or two old.
            var times = [timespec(tv_sec: time(nil) - 60, tv_nsec: 0), timespec(tv_sec: time(nil) - 60, tv_nsec: 0)]
            utimensat(AT_FDCWD, path, &times, 0)
        }

        // msmtp configs: one to submit (as root), one to re-inject (as nobody, who must own it).
        let msmtp = try SMTPSink.msmtp()
        func msmtpConfig(_ name: String, port: Int, owner: String?) throws -> String {
            let path = base.appending(path: name)
            try "defaults\nauth off\ntls off\ntls_starttls off\nsyslog off\naccount relay\nhost 127.0.0.1\nport \(port)\naccount default : relay\n"
                .write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o600)
            if let owner { try Shell.check("chown", [owner, path], timeout: 30) }
            return path
        }
        submitCommand = "\(msmtp) -C \(try msmtpConfig("submit.msmtprc", port: filterPort, owner: nil))"
        reinjectCommand = "\(msmtp) -C \(try msmtpConfig("reinject.msmtprc", port: reinjectPort, owner: "nobody:nogroup"))"

        let check = try Shell.run(postfix, ["-c", configDirectory, "check"], timeout: 60)
        guard check.status == 0 else { throw PostfixError("postfix check: \(check.out)\(check.err)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: postfix)
        p.arguments = ["-c", configDirectory, "start-fg"]
        p.standardInput = FileHandle.nullDevice
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: base.appending(path: "maillog")))
        p.standardOutput = out
        p.standardError = out
        try p.run()
        process = p
        // Both smtpd ports answer within 20 s, or the start failed.
        let deadline = Date().addingTimeInterval(20)
        while !(Self.listening(filterPort) && Self.listening(reinjectPort)) {
            guard Date() < deadline, p.isRunning else {
                stop()
                throw PostfixError("Postfix did not start: \((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "")")
            }
            usleep(50_000)
        }
    }

    deinit { stop() }

    private static func listening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// Submits a message with this envelope at `filterPort`.
    public func submit(_ message: Data, from: String, to recipients: [String]) throws {
        let argv = submitCommand.split(separator: " ").map(String.init)
        try Shell.check(argv[0], Array(argv.dropFirst()) + ["-f", from, "--"] + recipients, stdin: message, timeout: 60)
    }

    /// The queue as `postqueue -j` shows it: one JSON object per message.
    public func queue() throws -> [[String: Any]] {
        let r = try Shell.check("postqueue", ["-c", configDirectory, "-j"], timeout: 30)
        return String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Waits (bounded) until the queue is empty.
    public func waitUntilQueueEmpty(timeout: TimeInterval = 30) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try queue().isEmpty { return true }
            usleep(100_000)
        }
        return false
    }

    /// How many times the log says the filter's delivery was deferred.
    public func filterDeferrals() -> Int {
        let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").filter { $0.contains("relay=spoolrunfilter") && $0.contains("status=deferred") }.count
    }

    /// Waits (bounded) until the filter's delivery was deferred `count` times in all.
    public func waitForDeferrals(_ count: Int, timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if filterDeferrals() >= count { return true }
            usleep(100_000)
        }
        return false
    }

    /// Retries every deferred message now (`postqueue -f`).
    public func flush() throws { try Shell.check("postqueue", ["-c", configDirectory, "-f"], timeout: 30) }

    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// SIGTERM to the master (it stops its children), bounded; SIGKILL after 10 s.
    public func stop() {
        let pidFile = base.appending(path: "queue/pid/master.pid")
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
           let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 {
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while kill(pid, 0) == 0 && Date() < deadline { usleep(20_000) }
            if kill(pid, 0) == 0 { kill(-pid, SIGKILL); kill(pid, SIGKILL) }
        }
        guard process.isRunning else { return }
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

public struct PostfixError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
