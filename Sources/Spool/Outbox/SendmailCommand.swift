// Runs the configured sendmail-compatible command for one message (DESIGN §3, §6):
// `SENDMAIL -i -f FROM -- RCPT` with the message on stdin. No shell is involved: the
// command is split on spaces, and the addresses are passed as single arguments after "--".
// The command runs in its own process group, so a hung command and whatever it started are
// killed together when `timeout` passes.
// Its standard input is an anonymous memory file that holds the whole message before the
// command starts: an MTA takes the end of its input as the end of the message, so a pipe fed
// while it runs would let a sweep killed mid-way (kill -9, OOM) hand it an empty or cut
// message, which it would then send.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct SendmailOutcome: Sendable, Equatable {
    /// The exit status, or nil when the command was killed (timeout or signal).
    public var status: Int32?
    public var timedOut: Bool
    /// The end of what the command wrote on stderr (never the message).
    public var diagnostics: String
    /// The command never ran (empty, not found, no pipe): `diagnostics` says why.
    public var notStarted = false

    public var sent: Bool { status == 0 && !timedOut }

    public var summary: String {
        if timedOut { return "timed out and was killed" + (diagnostics.isEmpty ? "" : ": \(diagnostics)") }
        if notStarted { return "could not be run: \(diagnostics)" }
        guard let status else { return "was killed by a signal" }
        return "exited \(status)" + (diagnostics.isEmpty ? "" : ": \(diagnostics)")
    }
}

public struct SendmailCommand: Sendable {
    public let argv: [String]
    public let timeout: TimeInterval

    public init(_ command: String, timeout: TimeInterval) {
        argv = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        self.timeout = timeout
    }

    public func send(_ message: [UInt8], from: String, to recipients: [String]) -> SendmailOutcome {
        guard let program = argv.first else {
            return SendmailOutcome(status: nil, timedOut: false, diagnostics: "mail.sendmail is empty", notStarted: true)
        }
        let args = argv + ["-i", "-f", from, "--"] + recipients
        let input: Int32
        switch Self.messageFile(message) {
        case .success(let fd): input = fd
        case .failure(let problem): return SendmailOutcome(status: nil, timedOut: false, diagnostics: problem.description, notStarted: true)
        }
        var errors: [Int32] = [0, 0]
        guard pipe(&errors) == 0 else {
            close(input)
            return SendmailOutcome(status: nil, timedOut: false, diagnostics: "cannot make a pipe: \(String(cString: strerror(errno)))", notStarted: true)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        for fd in [input, errors[0], errors[1]] { posix_spawn_file_actions_addclose(&actions, fd) }
        // Nothing else spoolrun holds open (inherited without close-on-exec) reaches the command.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var pid: pid_t = 0
        let cArgs = args.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        let spawned = posix_spawnp(&pid, program, &actions, &attributes, cArgs, environ)
        close(input)
        close(errors[1])
        guard spawned == 0 else {
            close(errors[0])
            return SendmailOutcome(status: nil, timedOut: false,
                                   diagnostics: "cannot run \(program): \(String(cString: strerror(spawned)))", notStarted: true)
        }

        // Drain stderr on its own thread: a command that writes a lot must not block us past
        // the timeout.
        let stderrBox = StderrBox()
        let reader = Thread { [fd = errors[0]] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                stderrBox.append(buffer[0..<n])
            }
            close(fd)
        }
        reader.start()

        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        var exited = false
        var timedOut = false
        // Short waits first: most commands hand the message over in a millisecond or two,
        // and a queue of hundreds must not pay a fixed pause each.
        var pause: useconds_t = 50
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { exited = true; break }
            if r < 0 && errno != EINTR { break }
            if Date() >= deadline {
                timedOut = true
                kill(-pid, SIGTERM)
                let grace = Date().addingTimeInterval(2)
                while waitpid(pid, &status, WNOHANG) == 0 && Date() < grace { usleep(20_000) }
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                break
            }
            usleep(pause)
            pause = min(pause * 2, 5_000)
        }
        // The pipe closes when the group is gone; the thread ends then (bounded: 2 s).
        let joinDeadline = Date().addingTimeInterval(2)
        pause = 20
        while !reader.isFinished && Date() < joinDeadline {
            usleep(pause)
            pause = min(pause * 2, 5_000)
        }
        let diagnostics = stderrBox.tail()
        if timedOut { return SendmailOutcome(status: nil, timedOut: true, diagnostics: diagnostics) }
        guard exited else { return SendmailOutcome(status: nil, timedOut: false, diagnostics: diagnostics) }
        // WIFEXITED / WEXITSTATUS
        if status & 0x7f == 0 { return SendmailOutcome(status: (status >> 8) & 0xff, timedOut: false, diagnostics: diagnostics) }
        return SendmailOutcome(status: nil, timedOut: false, diagnostics: diagnostics)
    }
}

extension SendmailCommand {
    struct Problem: Error, CustomStringConvertible { let description: String }

    private typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
    /// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+), looked up at run time like memfd_create.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = dlsym(UnsafeMutableRawPointer(bitPattern: 0),
                                                           "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: AddCloseFrom.self) }

    /// memfd_create(2) (glibc 2.27+), looked up at run time: Swift's Glibc module does not declare it.
    private static let memfdCreate: MemfdCreate? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memfd_create")
        .map { unsafeBitCast($0, to: MemfdCreate.self) }

    /// An anonymous memory file (close-on-exec) holding `message`, positioned at its start.
    static func messageFile(_ message: [UInt8]) -> Result<Int32, Problem> {
        guard let memfdCreate else { return .failure(Problem(description: "memfd_create is not available")) }
        let fd = memfdCreate("spoolrun-mail", 1)  // 1: MFD_CLOEXEC
        guard fd >= 0 else { return .failure(Problem(description: "cannot make a memory file: \(String(cString: strerror(errno)))")) }
        let written: Bool = message.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        guard written, lseek(fd, 0, SEEK_SET) == 0 else {
            let problem = String(cString: strerror(errno))
            close(fd)
            return .failure(Problem(description: "cannot write the message to a memory file: \(problem)"))
        }
        return .success(fd)
    }
}

/// The last few hundred bytes a command wrote on stderr, as one printable line.
private final class StderrBox: @unchecked Sendable {
    private var bytes: [UInt8] = []
    private let lock = NSLock()

    func append(_ chunk: ArraySlice<UInt8>) {
        lock.lock()
        bytes += chunk
        if bytes.count > 2048 { bytes.removeFirst(bytes.count - 2048) }
        lock.unlock()
    }

    func tail() -> String {
        lock.lock()
        defer { lock.unlock() }
        let text = String(decoding: bytes, as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " | ")
        return String(line.suffix(400))
    }
}
