// A real SMTP server for the mail tests (Tests/Support/smtp_sink.py, on aiosmtpd) on
// 127.0.0.1, and an msmtp configuration that sends to it: with `mail.sendmail` set to
// `sendmailCommand`, spoolrun's outgoing mail crosses a real SMTP session and lands in
// `directory` as <n>.eml with its envelope in <n>.json.
import Foundation

public final class SMTPSink {
    /// One message as the sink received it.
    public struct Received: Sendable {
        /// 1, 2, 3 ... in the order of arrival.
        public let index: Int
        public let raw: Data
        /// MAIL FROM and RCPT TO of the SMTP session.
        public let mailFrom: String
        public let recipients: [String]
        public var text: String { String(decoding: raw, as: UTF8.self) }
    }

    public let directory: String
    public let port: Int
    /// `msmtp -C FILE`: the value for `mail.sendmail` (spoolrun appends -i -f FROM -- RCPT).
    public let sendmailCommand: String
    public let msmtpConfig: String
    private let process: Process
    private let log: String
    private let scratch: TemporaryDirectory

    public static var script: String { Paths.repo.appending(path: "Tests/Support/smtp_sink.py") }

    /// A python3 that has aiosmtpd: Debian's (python3-aiosmtpd) first, then the one on PATH.
    public static func python() throws -> String {
        for candidate in ["/usr/bin/python3", "python3"] {
            if let r = try? Shell.run(candidate, ["-c", "import aiosmtpd"], timeout: 30), r.status == 0 { return candidate }
        }
        throw MissingTool("python3-aiosmtpd (aiosmtpd for python3)")
    }

    public static func msmtp() throws -> String {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
            let p = dir.appending(path: "msmtp")
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw MissingTool("msmtp")
    }

    /// Starts the sink; it stops on `stop()`, when released, or by itself after `lifetime` seconds.
    public init(lifetime: TimeInterval = 900) throws {
        let python = try Self.python()
        let msmtp = try Self.msmtp()
        scratch = try TemporaryDirectory("spoolrun-smtp")
        directory = scratch.file("mail")
        log = scratch.file("sink.log")
        let ready = scratch.file("ready.json")
        FileManager.default.createFile(atPath: log, contents: nil)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: python.contains("/") ? python : "/usr/bin/env")
        p.arguments = (python.contains("/") ? [] : [python])
            + [Self.script, "--dir", directory, "--ready", ready, "--lifetime", "\(Int(lifetime))"]
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = logHandle
        p.standardError = logHandle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        try? logHandle.close()
        process = p

        // Wait (bounded) for the port it listens on.
        let deadline = Date().addingTimeInterval(30)
        var found: Int?
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: ready),
               let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let n = json["port"] as? Int {
                found = n
                break
            }
            if !p.isRunning { break }
            usleep(50_000)
        }
        guard let found else {
            Self.terminate(p)
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw ShellError(command: "\(python) \(Self.script)",
                             result: ProcessResult(status: p.isRunning ? -1 : p.terminationStatus, stdout: Data(),
                                                   stderr: Data("the SMTP sink did not start within 30 s: \(text)".utf8)))
        }
        port = found

        // msmtp: plain SMTP to the sink, no auth, no TLS. msmtp wants its config private.
        msmtpConfig = scratch.file("msmtprc")
        let config = """
            defaults
            auth off
            tls off
            tls_starttls off
            syslog off
            account sink
            host 127.0.0.1
            port \(found)
            account default : sink

            """
        FileManager.default.createFile(atPath: msmtpConfig, contents: Data(config.utf8),
                                       attributes: [.posixPermissions: 0o600])
        chmod(msmtpConfig, 0o600)
        sendmailCommand = "\(msmtp) -C \(msmtpConfig)"
    }

    deinit { stop() }

    /// Stops the server: SIGTERM, then SIGKILL after 5 s.
    public func stop() { Self.terminate(process) }

    private static func terminate(_ p: Process) {
        guard p.isRunning else { return }
        kill(p.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    /// What the sink wrote on stdout and stderr (for failure messages).
    public var serverLog: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Every message received so far, in order of arrival.
    public func messages() throws -> [Received] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let indices = names.compactMap { name -> Int? in
            guard name.hasSuffix(".eml"), !name.hasPrefix(".") else { return nil }
            return Int(name.dropLast(4))
        }.sorted()
        return try indices.map { n in
            let raw = try Data(contentsOf: URL(fileURLWithPath: directory.appending(path: "\(n).eml")))
            let meta = try Data(contentsOf: URL(fileURLWithPath: directory.appending(path: "\(n).json")))
            let json = try JSONSerialization.jsonObject(with: meta) as? [String: Any] ?? [:]
            return Received(index: n, raw: raw, mailFrom: json["mail_from"] as? String ?? "",
                            recipients: json["rcpt_tos"] as? [String] ?? [])
        }
    }

    /// Waits until at least `count` messages have arrived, at most `timeout` seconds, and
    /// returns all received by then (fewer when the time ran out: the caller asserts).
    @discardableResult
    public func wait(for count: Int, timeout: TimeInterval = 30) throws -> [Received] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let got = try messages()
            if got.count >= count || Date() >= deadline { return got }
            usleep(50_000)
        }
    }

    /// Parses a message with Python's email package under policy.strict (Tests/Support/mail_check.py).
    public static func check(_ raw: Data) throws -> [String: Any] {
        let script = Paths.repo.appending(path: "Tests/Support/mail_check.py")
        let r = try Shell.check("python3", [script], stdin: raw, timeout: 60)
        return try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any] ?? [:]
    }

    /// Parses every received message at once (one Python run for the whole folder), keyed by index.
    public func checkAll() throws -> [Int: [String: Any]] {
        let script = Paths.repo.appending(path: "Tests/Support/mail_check.py")
        let r = try Shell.check("python3", [script, "--mbox-dir", directory], timeout: 120)
        let json = try JSONSerialization.jsonObject(with: r.stdout) as? [String: [String: Any]] ?? [:]
        var out: [Int: [String: Any]] = [:]
        for (name, value) in json { if let n = Int(name.replacingOccurrences(of: ".eml", with: "")) { out[n] = value } }
        return out
    }
}
