// ChildProcess against real programs (sh, cat, python3, ls): how a child's end is reported,
// what reaches it and what comes back, and that every wait is bounded.
import Foundation
@testable import Spool
import XCTest

final class ChildProcessTests: XCTestCase {
    private func run(_ child: ChildProcess) throws -> (ChildProcess.Completion, TimeInterval) {
        let start = Date()
        let completion = try child.run()
        return (completion, Date().timeIntervalSince(start))
    }

    private func text(_ captured: ChildProcess.Captured) -> String { String(decoding: captured.bytes, as: UTF8.self) }

    func testTheExitStatusIsReported() throws {
        XCTAssertEqual(try ChildProcess(["/bin/sh", "-c", "exit 0"], timeout: 10).run().termination, .exited(0))
        XCTAssertEqual(try ChildProcess(["/bin/sh", "-c", "exit 7"], timeout: 10).run().termination, .exited(7))
        XCTAssertEqual(try ChildProcess(["sh", "-c", "exit 255"], timeout: 10).run().termination, .exited(255), "found on PATH")
    }

    func testAChildKilledByASignalReportsTheSignal() throws {
        let completion = try ChildProcess(["/bin/sh", "-c", "kill -USR1 $$; sleep 5"], timeout: 10).run()
        XCTAssertEqual(completion.termination, .signalled(SIGUSR1))
    }

    func testInputBytesReachTheChildAndStdoutAndStderrAreCapturedApart() throws {
        let input = Array("first line\nsecond line, no newline".utf8)
        let completion = try ChildProcess(["/bin/sh", "-c", "cat; echo 'said on stderr' >&2"], input: .bytes(input),
                                          output: .capture(limit: 1 << 20), errors: .capture(limit: 1 << 20), timeout: 10).run()
        XCTAssertEqual(completion.termination, .exited(0))
        XCTAssertEqual(completion.output.bytes, input)
        XCTAssertEqual(completion.output.dropped, 0)
        XCTAssertEqual(text(completion.errors), "said on stderr\n")
    }

    func testWithoutInputTheChildReadsAnEmptyStandardInput() throws {
        let completion = try ChildProcess(["/bin/cat"], output: .capture(limit: 100), timeout: 10).run()
        XCTAssertEqual(completion.termination, .exited(0))
        XCTAssertEqual(completion.output, ChildProcess.Captured())
    }

    func testOutputNotCapturedGoesNowhereAndCannotBlockTheChild() throws {
        // 4 MB on each stream, far more than a pipe holds.
        let completion = try ChildProcess(["/bin/sh", "-c", "head -c 4000000 /dev/zero; head -c 4000000 /dev/zero >&2"],
                                          timeout: 20).run()
        XCTAssertEqual(completion.termination, .exited(0))
        XCTAssertEqual(completion.output, ChildProcess.Captured())
        XCTAssertEqual(completion.errors, ChildProcess.Captured())
    }

    func testSeveralMegabytesOfInputReachASlowReaderWholeWhileItsOutputIsRead() throws {
        var generator = SystemRandomNumberGenerator()
        let words = (0..<(6 << 17)).map { _ in generator.next() as UInt64 }
        let input = words.withUnsafeBytes { Array($0) }
        // Echoes its input back in 64 KiB pieces with a pause after each (about 0.2 s in all):
        // nothing may wait for the other side to read first.
        let echo = """
            import os, sys, time
            while True:
                piece = os.read(0, 65536)
                if not piece:
                    break
                sys.stdout.buffer.write(piece)
                sys.stdout.buffer.flush()
                time.sleep(0.002)
            """
        let (completion, elapsed) = try run(ChildProcess(["/usr/bin/python3", "-c", echo], input: .bytes(input),
                                                         output: .capture(limit: 8 << 20), errors: .capture(limit: 4096), timeout: 60))
        XCTAssertEqual(completion.termination, .exited(0), text(completion.errors))
        XCTAssertEqual(completion.output.bytes.count, input.count)
        XCTAssertTrue(completion.output.bytes == input, "the output is the input, byte for byte")
        XCTAssertLessThan(elapsed, 30)
    }

    func testOutputOverTheLimitKeepsItsEndAndCountsTheRest() throws {
        let completion = try ChildProcess(["/usr/bin/seq", "1", "100000"], output: .capture(limit: 1000), timeout: 10).run()
        let whole = Array((1...100_000).map { "\($0)\n" }.joined().utf8)
        XCTAssertEqual(completion.termination, .exited(0), "the child was read to its end, not stopped")
        XCTAssertEqual(completion.output.bytes.count, 1000)
        XCTAssertEqual(completion.output.bytes, Array(whole.suffix(1000)))
        XCTAssertEqual(completion.output.dropped, whole.count - 1000)
    }

    func testAChildRunningPastTheTimeoutIsKilledAndReportedAsTimedOut() throws {
        let (completion, elapsed) = try run(ChildProcess(["/bin/sleep", "30"], timeout: 0.5))
        XCTAssertEqual(completion.termination, .timedOut)
        XCTAssertGreaterThanOrEqual(elapsed, 0.5)
        XCTAssertLessThan(elapsed, 5, "SIGTERM ends sleep at once")
    }

    func testAChildIgnoringSIGTERMIsKilledWithSIGKILLAfterTheGrace() throws {
        // The ignored SIGTERM is inherited by sleep through exec.
        var child = ChildProcess(["/bin/sh", "-c", "trap '' TERM; sleep 30"], timeout: 0.3)
        child.killGrace = 0.7
        let (completion, elapsed) = try run(child)
        XCTAssertEqual(completion.termination, .timedOut)
        XCTAssertGreaterThanOrEqual(elapsed, 1.0, "the grace was given")
        XCTAssertLessThan(elapsed, 6)
    }

    func testATimeoutAlsoKillsWhatTheChildStarted() throws {
        let (completion, elapsed) = try run(ChildProcess(["/bin/sh", "-c", "sleep 30 & echo $!; wait"],
                                                         output: .capture(limit: 100), timeout: 0.5))
        XCTAssertEqual(completion.termination, .timedOut)
        XCTAssertLessThan(elapsed, 5)
        let started = try XCTUnwrap(Int32(text(completion.output).trimmingCharacters(in: .whitespacesAndNewlines)), text(completion.output))
        // Gone, or a zombie waiting for whoever reaps orphans here: either way no longer running.
        // The signal went to the whole group; the kernel may take a moment to end the sleep
        // (bounded: 2 s).
        func state() -> Substring? {
            (try? String(contentsOfFile: "/proc/\(started)/stat", encoding: .utf8))?
                .split(separator: ")").last?.split(separator: " ").first
        }
        for _ in 0..<100 where !(state() == nil || state() == "Z") { usleep(20_000) }
        let last = state()
        XCTAssertTrue(last == nil || last == "Z", "the background sleep \(started) is still running: \(last ?? "")")
    }

    func testSomethingTheChildLeftRunningDoesNotHoldTheCallerPastTheOutputGrace() throws {
        // The background sleep keeps the output pipe open after the shell has exited.
        let (completion, elapsed) = try run(ChildProcess(["/bin/sh", "-c", "sleep 8 & echo started"],
                                                         output: .capture(limit: 100), timeout: 20))
        XCTAssertEqual(completion.termination, .exited(0))
        XCTAssertEqual(text(completion.output), "started\n")
        XCTAssertLessThan(elapsed, ChildProcess.outputGrace + 3)
    }

    func testNoDescriptorOfTheParentReachesTheChild() throws {
        // Opened without close-on-exec, and placed where it cannot be mistaken for 0, 1 or 2.
        let opened = open("/dev/null", O_RDONLY)
        XCTAssertGreaterThanOrEqual(opened, 0)
        let inherited = dup2(opened, 47)
        close(opened)
        XCTAssertEqual(inherited, 47)
        defer { close(inherited) }
        XCTAssertEqual(fcntl(inherited, F_GETFD) & FD_CLOEXEC, 0, "the test's descriptor would be inherited by exec")
        // ls lists the shell's descriptors, not its own.
        let completion = try ChildProcess(["/bin/sh", "-c", "ls /proc/$$/fd"], input: .bytes(Array("x".utf8)),
                                          output: .capture(limit: 4096), errors: .capture(limit: 4096), timeout: 10).run()
        XCTAssertEqual(completion.termination, .exited(0), text(completion.errors))
        let descriptors = text(completion.output).split(whereSeparator: \.isWhitespace).map(String.init).sorted()
        XCTAssertEqual(descriptors, ["0", "1", "2"])
    }

    func testTheChildGetsExactlyTheGivenEnvironment() throws {
        let completion = try ChildProcess(["/usr/bin/env"], environment: ["ONLY": "this one", "LANG": "C"],
                                          output: .capture(limit: 4096), timeout: 10).run()
        XCTAssertEqual(completion.termination, .exited(0))
        XCTAssertEqual(text(completion.output), "LANG=C\nONLY=this one\n")
    }

    func testArgumentsReachTheProgramAsGivenWithoutAShell() throws {
        let arguments = ["a b", "$HOME", "; rm -rf /", "*", "-"]
        let completion = try ChildProcess(["/usr/bin/printf", "%s\\n"] + arguments, output: .capture(limit: 4096), timeout: 10).run()
        XCTAssertEqual(completion.termination, .exited(0))
        XCTAssertEqual(text(completion.output), arguments.map { $0 + "\n" }.joined())
    }

    func testAMissingProgramIsAClearErrorNamingIt() {
        for program in ["/nonexistent/sendmail", "spoolrun-no-such-program"] {
            XCTAssertThrowsError(try ChildProcess([program, "-i"], input: .bytes([1, 2, 3]), errors: .capture(limit: 10), timeout: 10).run()) { error in
                let description = "\(error)"
                XCTAssertTrue(description.hasPrefix("cannot run \(program): "), description)
                XCTAssertTrue(description.contains("No such file or directory"), description)
            }
        }
        XCTAssertThrowsError(try ChildProcess([], timeout: 10).run()) { error in
            XCTAssertEqual("\(error)", "no program to run")
        }
    }
}
