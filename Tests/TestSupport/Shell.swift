// Runs real programs for the tests (openssl, python3, nginx, the spoolrun binary) with a
// time limit, capturing their output.
import Foundation

public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: Data
    public let stderr: Data
    public var out: String { String(decoding: stdout, as: UTF8.self) }
    public var err: String { String(decoding: stderr, as: UTF8.self) }
}

public struct ShellError: Error, CustomStringConvertible {
    public let command: String
    public let result: ProcessResult
    public init(command: String, result: ProcessResult) {
        self.command = command
        self.result = result
    }
    public var description: String { "\(command) exited \(result.status): \(result.err)" }
}

public enum Shell {
    /// Runs `executable` (a path, or a name looked up in PATH) and waits at most `timeout`.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String] = [:], directory: String? = nil,
                           timeout: TimeInterval = 120) throws -> ProcessResult {
        let p = Process()
        if executable.contains("/") {
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = arguments
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [executable] + arguments
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
        p.standardOutput = outPipe
        p.standardError = errPipe
        p.standardInput = stdin == nil ? FileHandle.nullDevice : inPipe
        try p.run()
        // Read both pipes concurrently so neither can fill up and block the child.
        let group = DispatchGroup()
        let box = OutputBox()
        group.enter()
        DispatchQueue.global().async {
            box.out = outPipe.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            box.err = errPipe.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        if let stdin {
            inPipe.fileHandleForWriting.write(stdin)
            try? inPipe.fileHandleForWriting.close()
        }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            p.terminate()
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            throw ShellError(command: "\(executable) \(arguments.joined(separator: " "))",
                             result: ProcessResult(status: -1, stdout: Data(), stderr: Data("timed out after \(timeout) s".utf8)))
        }
        p.waitUntilExit()
        return ProcessResult(status: p.terminationStatus, stdout: box.out, stderr: box.err)
    }

    /// Like `run`, but throws unless the exit status is 0.
    @discardableResult
    public static func check(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                             environment: [String: String] = [:], timeout: TimeInterval = 120) throws -> ProcessResult {
        let r = try run(executable, arguments, stdin: stdin, environment: environment, timeout: timeout)
        guard r.status == 0 else {
            throw ShellError(command: "\(executable) \(arguments.joined(separator: " "))", result: r)
        }
        return r
    }
}

private final class OutputBox: @unchecked Sendable {
    // @unchecked Sendable: each field is written by one reader thread, and read only after
    // the DispatchGroup says both are done.
    var out = Data()
    var err = Data()
}

/// A real component a test needs is not installed. This fails the test rather than
/// skipping it: `make test` installs every one (scripts/install-deps.sh --test), so a
/// missing one is a broken install step, which a skip would hide.
public struct MissingTool: Error, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public var description: String { "\(name) is not installed; run scripts/install-deps.sh --test" }
}

/// Finds a generated portal password (four groups of five from the generator's alphabet)
/// in a text, e.g. a password notice.
public enum PasswordFinder {
    public static func first(in text: String) -> String? {
        let pattern = "(?<![a-z0-9])[a-km-np-z2-9]{5}(-[a-km-np-z2-9]{5}){3}(?![a-z0-9])"
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let m = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
              let r = Range(m.range, in: text) else { return nil }
        return String(text[r])
    }
}
