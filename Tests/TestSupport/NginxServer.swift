// nginx started from the config `spoolrun setup` wrote (`nginx -p D -c D/nginx.conf`), as the
// tests' real web server. As root it runs as `nobody` (through setpriv), a user of its own as
// in production: it is handed D/logs and D/run and nothing else, so the tests prove that
// nginx works with only those and the world-readable web root (issue 15).
// Stopping is bounded: SIGQUIT, then SIGTERM to the pid file's process, then SIGKILL.
import Foundation

public final class NginxServer {
    public let root: String
    public let port: Int
    public let scheme: String
    public var base: String { "\(scheme)://127.0.0.1:\(port)" }
    public let outputPath: String
    private let process: Process
    private let outHandle: FileHandle

    public static var nginxPath: String? { Tools.which("nginx") }

    /// The command prefix that runs nginx as `nobody` when we are root, else nothing. nobody
    /// gets D/logs and D/run (made if missing) and `owned` (e.g. a TLS key, which production
    /// nginx reads as root); `readable` are folders outside D it must reach (a web root
    /// elsewhere): only their parents are made searchable, their own modes are left as they are.
    public static func privilegePrefix(root: String, readable: [String] = [], owned: [String] = []) throws -> [String] {
        guard geteuid() == 0 else { return [] }
        guard let setpriv = Tools.which("setpriv") else { throw MissingTool("setpriv (util-linux)") }
        let writable = [root.appending(path: "logs"), root.appending(path: "run")]
        for dir in writable { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try Shell.check("chown", ["-R", "nobody:nogroup"] + writable + owned, timeout: 60)
        // Every parent must be searchable by nobody.
        for path in [root] + readable {
            var dir = (path as NSString).deletingLastPathComponent
            while dir != "/" && !dir.isEmpty {
                var st = stat()
                if stat(dir, &st) == 0, st.st_mode & 0o001 == 0 { chmod(dir, st.st_mode & 0o7777 | 0o711) }
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
        return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    }

    /// `nginx -t` on the installation's config, as the user nginx will run as.
    public static func configTest(root: String, readable: [String] = [], owned: [String] = []) throws -> ProcessResult {
        guard let nginx = nginxPath else { throw MissingTool("nginx") }
        let prefix = try privilegePrefix(root: root, readable: readable, owned: owned)
        return try Shell.run(prefix.first ?? nginx, Array(prefix.dropFirst()) + (prefix.isEmpty ? [] : [nginx])
                             + ["-t", "-p", root, "-c", root.appending(path: "nginx.conf")], timeout: 60)
    }

    /// Starts nginx and waits (bounded, 10 s) until it answers `probe` with 200. With scheme
    /// "https", the probe accepts the test's self-signed certificate.
    public init(root: String, port: Int, readable: [String] = [], owned: [String] = [], probe: String = "/",
                scheme: String = "http") throws {
        guard let nginx = Self.nginxPath else { throw MissingTool("nginx") }
        self.root = root
        self.port = port
        self.scheme = scheme
        let prefix = try Self.privilegePrefix(root: root, readable: readable, owned: owned)
        outputPath = root.appending(path: "logs/nginx.out")
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process = Process()
        process.executableURL = URL(fileURLWithPath: prefix.first ?? nginx)
        process.arguments = Array(prefix.dropFirst()) + (prefix.isEmpty ? [] : [nginx])
            + ["-p", root, "-c", root.appending(path: "nginx.conf")]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outHandle
        process.standardError = outHandle
        try process.run()
        var code = ""
        for _ in 0..<100 {
            code = (try? Shell.run("curl", ["-s", "-k", "--max-time", "2", "-o", "/dev/null", "-w", "%{http_code}", base + probe],
                                   timeout: 10).out) ?? ""
            if code == "200" || !process.isRunning { break }
            usleep(100_000)
        }
        guard code == "200" else {
            let why = diagnostics()
            stop()
            throw ShellError(command: "nginx did not serve \(probe) within 10 s (answer \(code.isEmpty ? "none" : code)); \(why)",
                             result: ProcessResult(status: -1, stdout: Data(), stderr: Data()))
        }
    }

    deinit { stop() }

    public var isRunning: Bool { process.isRunning }

    /// nginx's own output and its error log, for failure messages.
    public func diagnostics() -> String {
        let out = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let log = (try? String(contentsOfFile: root.appending(path: "logs/nginx-error.log"), encoding: .utf8)) ?? ""
        return "nginx output: \(out); error log: \(log)"
    }

    /// The lines of a log file under D/logs (empty when it does not exist yet).
    public func logLines(_ name: String) -> [String] {
        let text = (try? String(contentsOfFile: root.appending(path: "logs/\(name)"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    public func stop() {
        guard process.isRunning else { try? outHandle.close(); return }
        kill(process.processIdentifier, SIGQUIT)
        if !Self.wait(for: process, seconds: 10) {
            if let text = try? String(contentsOfFile: root.appending(path: "run/nginx.pid"), encoding: .utf8),
               let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 {
                kill(pid, SIGTERM)
            }
            if !Self.wait(for: process, seconds: 5) {
                kill(process.processIdentifier, SIGKILL)
                _ = Self.wait(for: process, seconds: 5)
            }
        }
        try? outHandle.close()
    }

    static func wait(for p: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        return !p.isRunning
    }
}

/// Finding programs on PATH and in the usual system directories.
public enum Tools {
    public static func which(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        return dirs.map { $0.appending(path: name) }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
