// The spool as a sweep sees it (DESIGN §3, §8; docs/tunnel.md §5): one sweep at a time,
// only regular files in spool/new are messages, and a file renamed into new/ while a sweep
// runs is taken whole or left for the next sweep, never half-read.
import Foundation
import XCTest
import TestSupport

final class SpoolRobustnessTests: XCTestCase {

    // MARK: - The lock

    func testSecondSweepWhileTheLockIsHeldExitsZeroAtOnceAndChangesNothing() throws {
        let inst = try RobustnessKit.installation()
        let tunnel = try RobustnessKit.tunnel(inst)
        try inst.deliver(tunnel, name: "waiting")

        let lockFile = inst.root.appending(path: "state/sweep.lock")
        // The lock file as a sweep makes it (0600): flock(1) would create it with the umask's
        // mode, which the state folder's privacy check refuses (issue 15).
        XCTAssertTrue(FileManager.default.createFile(atPath: lockFile, contents: nil, attributes: [.posixPermissions: 0o600]))
        // `flock -F` execs sleep in place, so the process we start is the one that holds the
        // lock, and terminating it releases the lock.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: try RobustnessKit.which("flock"))
        holder.arguments = ["-F", lockFile, "sleep", "30"]
        holder.standardInput = FileHandle.nullDevice
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        defer { RobustnessKit.stop(holder) }

        // Bounded: until `flock -n` finds the lock taken (exit 1), at most 10 s.
        var held = false
        for _ in 0..<200 {
            let probe = try Shell.run(try RobustnessKit.which("flock"), ["-n", lockFile, "true"], timeout: 10)
            if probe.status == 1 { held = true; break }
            XCTAssertTrue(holder.isRunning, "the lock holder exited early")
            usleep(50_000)
        }
        XCTAssertTrue(held, "the flock holder never took \(lockFile)")
        guard held else { return }

        let started = Date()
        let r = try inst.sweep(timeout: 25)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(r.status, 0, "a sweep that finds the lock held must exit 0; stderr: \(r.err)")
        XCTAssertLessThan(elapsed, 10, "a sweep that finds the lock held must exit at once, not wait for it")
        XCTAssertTrue(r.err.contains("another sweep is running"), "expected the lock to be logged; stderr: \(r.err)")
        XCTAssertEqual(inst.names(in: "new"), ["waiting"], "the file must stay in spool/new")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: inst.spool("new").appending(path: "waiting"))), tunnel)
        XCTAssertEqual(inst.names(in: "archive"), [])
        XCTAssertEqual(inst.names(in: "failed"), [])

        // Released: the next sweep does the work.
        RobustnessKit.stop(holder)
        XCTAssertFalse(holder.isRunning, "the lock holder did not stop")
        let after = try inst.sweep()
        XCTAssertEqual(after.status, 0, after.err)
        XCTAssertEqual(inst.names(in: "archive"), ["waiting"], "after the lock is released a sweep archives the file; stderr: \(after.err)")
        XCTAssertEqual(inst.names(in: "new"), [])
        XCTAssertEqual(inst.names(in: "failed"), [])
    }

    // MARK: - What is not a message

    func testFilesInTmpAndDotFilesInNewAreLeftAloneWhileAPlainFileIsArchived() throws {
        let inst = try RobustnessKit.installation()
        let inTmp = try RobustnessKit.tunnel(inst)
        let dotted = try RobustnessKit.tunnel(inst)
        let plain = try RobustnessKit.tunnel(inst)
        let junk = Data("not a message at all\n".utf8)

        let tmpPath = inst.spool("tmp").appending(path: "1700000000.M1P1.portal")
        let dotPath = inst.spool("new").appending(path: ".1700000000.M2P2.portal")
        let dotJunkPath = inst.spool("new").appending(path: ".junk")
        try inTmp.write(to: URL(fileURLWithPath: tmpPath))
        try dotted.write(to: URL(fileURLWithPath: dotPath))
        try junk.write(to: URL(fileURLWithPath: dotJunkPath))
        try inst.deliver(plain, name: "1700000000.M3P3.portal")

        let r = try inst.sweep()
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(inst.names(in: "archive"), ["1700000000.M3P3.portal"], "the plain file must be archived; stderr: \(r.err)")
        XCTAssertEqual(inst.names(in: "failed"), [], "nothing may be quarantined; stderr: \(r.err)")
        XCTAssertEqual(try RobustnessKit.contents(tmpPath), inTmp, "a file in spool/tmp must be left untouched")
        XCTAssertEqual(try RobustnessKit.contents(dotPath), dotted, "a dot-file in spool/new must be left untouched")
        XCTAssertEqual(try RobustnessKit.contents(dotJunkPath), junk, "a dot-file in spool/new must be left untouched")
        XCTAssertEqual(inst.names(in: "tmp"), ["1700000000.M1P1.portal"])
        XCTAssertEqual(inst.names(in: "new"), [".1700000000.M2P2.portal", ".junk"])

        // And a second sweep still leaves them.
        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertEqual(try RobustnessKit.contents(tmpPath), inTmp)
        XCTAssertEqual(try RobustnessKit.contents(dotPath), dotted)
        XCTAssertEqual(inst.names(in: "archive"), ["1700000000.M3P3.portal"])
        XCTAssertEqual(inst.names(in: "failed"), [])
    }

    func testSymlinksFIFOsAndDirectoriesInNewAreNeverFollowedOrOpenedAndStayInNew() throws {
        let inst = try RobustnessKit.installation()
        let fm = FileManager.default
        let new = inst.spool("new")

        // A valid tunnel file outside the spool, reached through a symlink in new/.
        let outside = inst.scratch.file("outside.eml")
        let outsideBytes = try RobustnessKit.tunnel(inst)
        try outsideBytes.write(to: URL(fileURLWithPath: outside))
        let outsideModified = try RobustnessKit.modificationDate(outside)
        XCTAssertEqual(symlink(outside, new.appending(path: "link")), 0, "symlink: \(String(cString: strerror(errno)))")

        // A FIFO nobody writes to: opening it for reading would block forever.
        XCTAssertEqual(mkfifo(new.appending(path: "fifo"), 0o600), 0, "mkfifo: \(String(cString: strerror(errno)))")

        // A directory holding a valid tunnel file.
        let dir = new.appending(path: "folder")
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: false)
        let innerBytes = try RobustnessKit.tunnel(inst)
        try innerBytes.write(to: URL(fileURLWithPath: dir.appending(path: "inner")))

        // And one real message, so that we know the sweep did run.
        let plainBytes = try RobustnessKit.tunnel(inst)
        try inst.deliver(plainBytes, name: "plain")

        let started = Date()
        let r: ProcessResult
        do {
            r = try inst.sweep(timeout: 60)
        } catch {
            XCTFail("the sweep did not finish within 60 s (blocked on the FIFO?): \(error)")
            return
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 60)
        XCTAssertEqual(r.status, 0, r.err)

        XCTAssertEqual(inst.names(in: "archive"), ["plain"], "only the regular file is a message; stderr: \(r.err)")
        XCTAssertEqual(try RobustnessKit.contents(inst.spool("archive").appending(path: "plain")), plainBytes)
        XCTAssertEqual(inst.names(in: "failed"), [], "nothing may be quarantined; stderr: \(r.err)")
        XCTAssertEqual(inst.names(in: "new"), ["fifo", "folder", "link"])

        XCTAssertEqual(RobustnessKit.fileType(new.appending(path: "link")), S_IFLNK, "the symlink must stay a symlink in new/")
        XCTAssertEqual(try fm.destinationOfSymbolicLink(atPath: new.appending(path: "link")), outside)
        XCTAssertEqual(try RobustnessKit.contents(outside), outsideBytes, "the symlink's target must be untouched")
        XCTAssertEqual(try RobustnessKit.modificationDate(outside), outsideModified)
        XCTAssertEqual(RobustnessKit.fileType(new.appending(path: "fifo")), S_IFIFO, "the FIFO must stay in new/")
        XCTAssertEqual(RobustnessKit.fileType(dir), S_IFDIR, "the directory must stay in new/")
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: dir), ["inner"])
        XCTAssertEqual(try RobustnessKit.contents(dir.appending(path: "inner")), innerBytes, "a directory's content is never touched")

        for name in ["link", "fifo", "folder"] {
            XCTAssertTrue(r.err.contains(name), "expected a warning naming \(name); stderr: \(r.err)")
        }
    }

    // MARK: - Delivery during a sweep

    func testAMessageArrivingDuringASweepIsTakenWholeOrLeftForTheNextSweepNeverHalfRead() throws {
        let inst = try RobustnessKit.installation()
        let total = 300, before = 150

        // Every tunnel file has its own envelope id, so each must be wrapped on its own.
        let box = RobustnessKit.DataBox(count: total)
        let failures = RobustnessKit.DataBox(count: 1)
        let gatewayConfig = inst.gatewayConfig
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            var i = worker
            while i < total {
                do { box.set(i, try RobustnessKit.tunnel(gatewayConfig: gatewayConfig)) } catch {
                    failures.set(0, Data("\(error)".utf8))
                }
                i += 4
            }
        }
        if let failure = failures.get(0) { XCTFail("wrap failed: \(String(decoding: failure, as: UTF8.self))"); return }
        let messages = (0..<total).map { box.get($0)! }
        let names = (0..<total).map { String(format: "1700000000.M%06dP42.portal", $0) }

        for i in 0..<before { try inst.deliver(messages[i], name: names[i]) }

        let log = inst.scratch.file("sweep1.log")
        FileManager.default.createFile(atPath: log, contents: nil)
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let sweep = Process()
        sweep.executableURL = URL(fileURLWithPath: Paths.spoolrun)
        sweep.arguments = ["run", "--config", inst.config]
        sweep.standardInput = FileHandle.nullDevice
        sweep.standardOutput = logHandle
        sweep.standardError = logHandle
        try sweep.run()
        defer { RobustnessKit.stop(sweep) }

        // Like an MTA: write into tmp/ in two pieces (a sweep must never see the first
        // half alone), then rename into new/. Spread over the sweep's run time.
        var deliveredWhileRunning = 0
        for i in before..<total {
            let tmp = inst.spool("tmp").appending(path: names[i])
            let half = messages[i].count / 2
            FileManager.default.createFile(atPath: tmp, contents: messages[i].prefix(half))
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp))
            try h.seekToEnd()
            usleep(1_000)
            try h.write(contentsOf: messages[i].suffix(from: half))
            try h.close()
            if sweep.isRunning { deliveredWhileRunning += 1 }
            XCTAssertEqual(rename(tmp, inst.spool("new").appending(path: names[i])), 0)
            usleep(2_000)
        }

        XCTAssertTrue(RobustnessKit.wait(for: sweep, seconds: 120), "the first sweep did not finish within 120 s")
        try? logHandle.close()
        let firstLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(sweep.terminationStatus, 0, firstLog)

        // After the first sweep: each file is archived whole or still waiting in new/.
        let archived = Set(inst.names(in: "archive"))
        let waiting = Set(inst.names(in: "new"))
        XCTAssertEqual(inst.names(in: "failed"), [], "nothing may be quarantined (a half-read file would be); log: \(firstLog)")
        XCTAssertTrue(archived.isDisjoint(with: waiting))
        XCTAssertEqual(archived.union(waiting), Set(names), "every delivered file is in archive/ or new/")
        for i in 0..<before {
            XCTAssertTrue(archived.contains(names[i]), "\(names[i]) was in new/ when the sweep started")
        }
        for (i, name) in names.enumerated() where archived.contains(name) {
            XCTAssertEqual(try RobustnessKit.contents(inst.spool("archive").appending(path: name)), messages[i],
                           "archived \(name) differs from what was delivered")
        }
        print("SpoolRobustnessTests: \(total - before) delivered during the sweep, \(deliveredWhileRunning) while it was still running; first sweep archived \(archived.count), left \(waiting.count)")

        // The next sweep takes the rest.
        let second = try inst.sweep()
        XCTAssertEqual(second.status, 0, second.err)
        XCTAssertEqual(inst.names(in: "archive"), names.sorted(), "the second sweep archives the rest; stderr: \(second.err)")
        XCTAssertEqual(inst.names(in: "new"), [])
        XCTAssertEqual(inst.names(in: "failed"), [])
        XCTAssertEqual(inst.names(in: "tmp"), [])
        for (i, name) in names.enumerated() {
            XCTAssertEqual(try RobustnessKit.contents(inst.spool("archive").appending(path: name)), messages[i])
        }
        XCTAssertEqual((try inst.status()["accepted"] as? Int), total)
    }
}

// Helpers for this file only (a distinct name, so as not to clash with other test files).
private enum RobustnessKit {
    /// A fresh installation made by `spoolrun setup`.
    static func installation() throws -> TestInstallation { try TestInstallation() }

    /// A valid tunnel message for `inst`, signed with its own gateway key.
    static func tunnel(_ inst: TestInstallation) throws -> Data {
        try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test"])
    }

    /// The same as `tunnel(_:)`, from the gateway config's path (usable from any thread).
    static func tunnel(gatewayConfig: String) throws -> Data {
        try Shell.check(Paths.spoolrun, ["wrap", "--config", gatewayConfig, "--to", "bob@ext.test"],
                        stdin: TestInstallation.sampleOriginal).stdout
    }

    static func contents(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    static func fileType(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    static func modificationDate(_ path: String) throws -> Date? {
        try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
    }

    static func which(_ name: String) throws -> String {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        for dir in dirs where FileManager.default.isExecutableFile(atPath: dir.appending(path: name)) {
            return dir.appending(path: name)
        }
        throw MissingTool(name)
    }

    /// Waits at most `seconds` for `p` to exit.
    static func wait(for p: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        return !p.isRunning
    }

    /// Stops `p` if it still runs: SIGTERM, then SIGKILL; bounded.
    static func stop(_ p: Process) {
        guard p.isRunning else { return }
        p.terminate()
        if !wait(for: p, seconds: 5) {
            kill(p.processIdentifier, SIGKILL)
            _ = wait(for: p, seconds: 5)
        }
    }

    /// Results filled in by concurrent workers.
    final class DataBox: @unchecked Sendable {
        // @unchecked Sendable: every access goes through `lock`.
        private var items: [Data?]
        private let lock = NSLock()
        init(count: Int) { items = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ d: Data) { lock.lock(); items[i] = d; lock.unlock() }
        func get(_ i: Int) -> Data? { lock.lock(); defer { lock.unlock() }; return items[i] }
    }
}
