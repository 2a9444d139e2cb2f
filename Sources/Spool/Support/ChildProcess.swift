// Runs one program as a child process and waits for it, bounded in time: the sendmail
// command (DESIGN §3, §6) runs through it. No shell is involved: the arguments are passed as
// they are, the program found on PATH when its name has no slash. The child runs in its own
// process group, so a timeout kills whatever it started too (SIGTERM, then SIGKILL after a
// grace period), and only descriptors 0, 1 and 2 reach it.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

package struct ChildProcess: Sendable {
    package enum Input: Sendable {
        /// /dev/null.
        case nothing
        /// Written whole into an anonymous memory file before the child starts: the child
        /// reaches the end of its input only after all of it, even if this process is killed
        /// while the child runs (an MTA takes the end of its input as the end of the message,
        /// so a pipe fed as it reads could hand it a cut message to send), and no pipe can
        /// fill up while the child reads slowly.
        case bytes([UInt8])
    }

    package enum Output: Sendable {
        /// /dev/null.
        case discard
        /// Read while the child runs, so it never blocks on a full pipe; only the last
        /// `limit` bytes are kept (the end of a program's output is where it says why it
        /// failed), and the rest is counted.
        case capture(limit: Int)
    }

    package enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
        /// Ran past the timeout and was killed with its process group.
        case timedOut
        /// The child's status was taken by someone else (waitpid failed): it ran, how it ended
        /// is not known.
        case unknown
    }

    package struct Captured: Sendable, Equatable {
        /// The last bytes the child wrote, at most the limit.
        package var bytes: [UInt8] = []
        /// How many bytes it wrote before those, which were not kept.
        package var dropped = 0
    }

    package struct Completion: Sendable, Equatable {
        package var termination: Termination
        package var output: Captured
        package var errors: Captured
    }

    /// The child could not be started; the description names the program.
    package struct LaunchError: Error, CustomStringConvertible {
        package let description: String
    }

    /// The program's name (argv[0]) and its arguments.
    package var arguments: [String]
    /// The child's environment; nil hands it this process's.
    package var environment: [String: String]?
    package var input: Input
    package var output: Output
    package var errors: Output
    /// From the start until the child is sent SIGTERM.
    package var timeout: TimeInterval
    /// From SIGTERM until SIGKILL.
    package var killGrace: TimeInterval = 2

    /// After the child has ended, its output is read until this long has passed: something it
    /// started in the background may hold the pipe open for as long as it runs.
    static let outputGrace: TimeInterval = 2

    package init(_ arguments: [String], environment: [String: String]? = nil, input: Input = .nothing,
                 output: Output = .discard, errors: Output = .discard, timeout: TimeInterval) {
        self.arguments = arguments
        self.environment = environment
        self.input = input
        self.output = output
        self.errors = errors
        self.timeout = timeout
    }

    /// Starts the child and waits until it has ended (or was killed at the timeout).
    package func run() throws(LaunchError) -> Completion {
        guard let program = arguments.first else { throw LaunchError(description: "no program to run") }
        // The descriptors the child gets as 0, 1 and 2 (nil: /dev/null); the parent's copies
        // are closed once the child has them.
        var childEnds: [Int32?] = [nil, nil, nil]
        defer { for case let fd? in childEnds { close(fd) } }
        var streams: [CapturedStream] = []
        defer { for stream in streams { stream.close() } }

        if case .bytes(let bytes) = input {
            childEnds[0] = try Self.memoryFile(holding: bytes, for: program)
        }
        for (target, wanted) in [(1, output), (2, errors)] {
            guard case .capture(let limit) = wanted else { continue }
            guard let ends = System.closeOnExecPipe() else {
                throw LaunchError(description: "cannot make a pipe for \(program): \(Self.describe(errno))")
            }
            streams.append(CapturedStream(descriptor: Self.aboveStandard(ends.read), limit: limit, target: target))
            childEnds[target] = Self.aboveStandard(ends.write)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Every descriptor handed over is at 3 or above and closed on exec, so 0, 1 and 2 can
        // be set in any order and the originals do not reach the program.
        for target in 0..<3 {
            if let fd = childEnds[target] {
                posix_spawn_file_actions_adddup2(&actions, fd, Int32(target))
            } else {
                posix_spawn_file_actions_addopen(&actions, Int32(target), "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        // Nothing else this process holds open (inherited without close-on-exec) reaches the child.
        let closing = System.addCloseFrom(3, to: &actions)
        guard closing == 0 else {
            throw LaunchError(description: "cannot run \(program): closing inherited descriptors: \(Self.describe(closing))")
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        // This process ignores SIGPIPE; a program expects it to end a write to a closed pipe.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var pid: pid_t = 0
        let cArguments = arguments.map { strdup($0) } + [nil]
        defer { for p in cArguments { free(p) } }
        let cEnvironment = environment.map { $0.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for p in cEnvironment ?? [] { free(p) } }
        let spawned = if let cEnvironment {
            posix_spawnp(&pid, program, &actions, &attributes, cArguments, cEnvironment)
        } else {
            posix_spawnp(&pid, program, &actions, &attributes, cArguments, environ)
        }
        for case let fd? in childEnds { close(fd) }
        childEnds = [nil, nil, nil]
        guard spawned == 0 else { throw LaunchError(description: "cannot run \(program): \(Self.describe(spawned))") }

        let termination = wait(for: pid, draining: streams)
        CapturedStream.drain(streams, until: ContinuousClock.now + .seconds(Self.outputGrace))
        for stream in streams { stream.close() }
        func captured(_ target: Int) -> Captured { streams.first { $0.target == target }?.captured ?? Captured() }
        return Completion(termination: termination, output: captured(1), errors: captured(2))
    }

    private func wait(for pid: pid_t, draining streams: [CapturedStream]) -> Termination {
        let clock = ContinuousClock()
        switch Self.reap(pid, before: clock.now + .seconds(timeout), draining: streams) {
        case .status(let status): return Self.termination(status)
        case .lost: return .unknown
        case .running: break
        }
        kill(-pid, SIGTERM)
        _ = Self.reap(pid, before: clock.now + .seconds(killGrace), draining: streams)
        // Also when the child itself has ended: whatever it started goes with it.
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return .timedOut
    }

    private enum Reaped { case status(Int32), lost, running }

    /// Waits for the child to end, reading its output meanwhile, until `end`.
    private static func reap(_ pid: pid_t, before end: ContinuousClock.Instant, draining streams: [CapturedStream]) -> Reaped {
        // Short waits first: most commands are done in a millisecond or two, and a queue of
        // hundreds must not pay a fixed pause each. A child that ends closes its pipes, which
        // also ends a wait on them at once.
        var pause = Duration.microseconds(50)
        while true {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return .status(status) }
            if r < 0 && errno != EINTR { return .lost }
            let now = ContinuousClock.now
            if now >= end { return .running }
            let slice = min(pause, end - now)
            if streams.contains(where: \.isOpen) {
                CapturedStream.drain(streams, until: now + slice)
            } else {
                usleep(useconds_t(slice.components.attoseconds / 1_000_000_000_000 + slice.components.seconds * 1_000_000))
            }
            pause = min(pause * 2, .milliseconds(5))
        }
    }

    private static func termination(_ status: Int32) -> Termination {
        // WIFEXITED / WEXITSTATUS / WTERMSIG (macros Swift does not import).
        if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(status & 0x7f)
    }

    /// An anonymous memory file (close-on-exec) holding `bytes`, positioned at its start.
    private static func memoryFile(holding bytes: [UInt8], for program: String) throws(LaunchError) -> Int32 {
        let made = System.memoryFile(named: "spoolrun-input")
        guard made >= 0 else { throw LaunchError(description: "cannot make a memory file for the input of \(program): \(describe(errno))") }
        let fd = aboveStandard(made)
        let written: Bool = bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        guard written, lseek(fd, 0, SEEK_SET) == 0 else {
            let problem = describe(errno)
            close(fd)
            throw LaunchError(description: "cannot write the input of \(program) to a memory file: \(problem)")
        }
        return fd
    }

    /// `fd` moved to 3 or above (close-on-exec), should this process run with 0, 1 or 2
    /// closed: handed to the child as one of those, it would otherwise be closed or
    /// overwritten while the others are set.
    private static func aboveStandard(_ fd: Int32) -> Int32 {
        guard fd < 3 else { return fd }
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, 3)
        guard moved >= 0 else { return fd }
        close(fd)
        return moved
    }

    private static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// The parent's end of one output pipe and what has been read from it.
private final class CapturedStream {
    let target: Int
    private(set) var captured = ChildProcess.Captured()
    private var descriptor: Int32
    private let limit: Int

    init(descriptor: Int32, limit: Int, target: Int) {
        self.descriptor = descriptor
        self.limit = max(0, limit)
        self.target = target
    }

    var isOpen: Bool { descriptor >= 0 }

    func close() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
        trim(to: limit)
    }

    /// Reads whatever the open streams have until `end`, or until all are at their end.
    static func drain(_ streams: [CapturedStream], until end: ContinuousClock.Instant) {
        while true {
            let open = streams.filter(\.isOpen)
            let now = ContinuousClock.now
            guard !open.isEmpty, now < end else { return }
            var fds = open.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
            // Rounded up: a wait of a few microseconds is a wait of one millisecond, not a spin.
            let left = end - now
            let milliseconds = Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
            let ready = poll(&fds, nfds_t(fds.count), milliseconds)
            if ready < 0 && errno != EINTR { return }
            guard ready > 0 else { continue }
            for (stream, fd) in zip(open, fds) where fd.revents != 0 { stream.readOnce() }
        }
    }

    private func readOnce() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = read(descriptor, &buffer, buffer.count)
        if n < 0 && (errno == EINTR || errno == EAGAIN) { return }
        guard n > 0 else { close(); return }
        captured.bytes.append(contentsOf: buffer[0..<n])
        // Trimmed in batches, not on every read, so a long output costs little.
        if captured.bytes.count > 2 * limit + buffer.count { trim(to: limit) }
    }

    private func trim(to limit: Int) {
        let excess = captured.bytes.count - limit
        guard excess > 0 else { return }
        captured.bytes.removeFirst(excess)
        captured.dropped += excess
    }
}
