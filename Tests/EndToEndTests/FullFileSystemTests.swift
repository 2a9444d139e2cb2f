// A sweep that meets a full or read-only file system under www/ or state/ stops with an error
// that says so and names the file, quarantines nothing and loses nothing; once there is space
// (or the file system is writable) again, the next sweep completes. Real file systems: a small
// tmpfs mounted over the installation's folder (needs root, as the Postfix tests do), not the
// injected ENOSPC/EROFS of the crash suite.
import Foundation
import TestSupport
import XCTest

final class FullFileSystemTests: XCTestCase {
    private var mounts: [String] = []

    override func tearDown() {
        for dir in mounts.reversed() { _ = try? Shell.run("umount", ["-l", dir], timeout: 30) }
        mounts = []
        super.tearDown()
    }

    func testAFullWWWFileSystemStopsTheSweepCleanlyAndTheNextSweepCompletesOnceThereIsSpace() throws {
        try checkFull("www", spareKiB: 640, expect: "No space left on device")
    }

    func testAReadOnlyWWWFileSystemStopsTheSweepCleanlyAndTheNextSweepCompletesOnceItIsWritable() throws {
        try checkReadOnly("www")
    }

    func testAFullStateFileSystemStopsTheSweepCleanlyAndTheNextSweepCompletesOnceThereIsSpace() throws {
        // Room to open the store (its -shm and -wal), not for the batches' commits.
        try checkFull("state", spareKiB: 96, expect: "is full (")
    }

    func testAReadOnlyStateFileSystemStopsTheSweepCleanlyAndTheNextSweepCompletesOnceItIsWritable() throws {
        try checkReadOnly("state")
    }

    /// `folder` on a tmpfs with `spareKiB` more than it holds; then 64 MiB.
    private func checkFull(_ folder: String, spareKiB: Int, expect: String,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        try check(folder: folder, breakIt: { dir, used in try self.mountTmpfs(over: dir, kib: used + spareKiB) },
                  mend: { dir in try Shell.check("mount", ["-o", "remount,size=64m", dir]) },
                  expect: expect, file: file, line: line)
    }

    /// `folder` on a read-only tmpfs; then read-write.
    private func checkReadOnly(_ folder: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try check(folder: folder, breakIt: { dir, _ in
            try self.mountTmpfs(over: dir, kib: 65536)
            try Shell.check("mount", ["-o", "remount,ro", dir])
        }, mend: { dir in try Shell.check("mount", ["-o", "remount,rw", dir]) },
           expect: "Read-only file system", file: file, line: line)
    }

    // MARK: - The scenario

    private static let recipients = ["ann@ext.test", "ben@ext.test"]
    private static func password(_ address: String) -> String { "Pw-of-\(address)" }

    /// One sweep puts the installation's state in order (and creates its files); then `breakIt`
    /// makes `folder` full or read-only, mail arrives, and a sweep must fail cleanly; after
    /// `mend`, one sweep must finish everything.
    private func check(folder: String, breakIt: (String, Int) throws -> Void, mend: (String) throws -> Void,
                       expect: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let inst = try TestInstallation()
        try inst.setConfig("sendmail", "\"/bin/true\"")
        try inst.setConfig("show_subject", "true")
        // Small batches: some are committed before the file system gives out.
        try inst.setConfig("max_message_mb", "50\nbatch_size = 2")
        let first = try deliverMessage(inst, number: 0)
        XCTAssertEqual(try inst.sweep().status, 0, "the first sweep, before anything breaks", file: file, line: line)

        let dir = inst.root.appending(path: folder)
        try breakIt(dir, try usedKiB(dir))
        var names = [first]
        for n in 1...6 { names.append(try deliverMessage(inst, number: n)) }

        let failed = try inst.sweep()
        XCTAssertEqual(failed.status, 1, "a sweep that meets a \(expect) file system stops with an error: \(failed.err)",
                       file: file, line: line)
        XCTAssertTrue(failed.err.contains(expect), "the error says what happened: \(failed.err.suffix(800))",
                      file: file, line: line)
        XCTAssertTrue(failed.err.contains(dir), "the error names the file under \(dir): \(failed.err.suffix(800))",
                      file: file, line: line)
        XCTAssertEqual(inst.names(in: "failed"), [], "nothing is quarantined for a full or read-only disk",
                       file: file, line: line)
        XCTAssertEqual(Set(inst.names(in: "new") + inst.names(in: "archive")), Set(names),
                       "every message is still in spool/new or archived", file: file, line: line)
        XCTAssertEqual(inst.temporaryFiles(under: "www"), [], "no temporary file is left",
                       file: file, line: line)

        try mend(dir)
        let next = try inst.sweep()
        XCTAssertEqual(next.status, 0, "the next sweep completes: \(next.err)", file: file, line: line)
        XCTAssertEqual(inst.names(in: "new"), [], file: file, line: line)
        XCTAssertEqual(inst.names(in: "archive"), names.sorted(), file: file, line: line)
        XCTAssertEqual(inst.names(in: "failed"), [], file: file, line: line)
        XCTAssertEqual(try inst.status()["accepted"] as? Int, names.count, "each message recorded once",
                       file: file, line: line)
        for address in Self.recipients {
            let mailbox = try MailboxReader.verify(inst, address: address, password: Self.password(address))
            XCTAssertEqual(mailbox.problems, [], file: file, line: line)
            XCTAssertEqual(mailbox.subjects.sorted(), (0...6).map { "Figures \($0)" },
                           "\(address) has every message once", file: file, line: line)
        }
        XCTAssertEqual(inst.temporaryFiles(under: "www"), [], file: file, line: line)
    }

    /// A message to both recipients with a 150 KB attachment (random bytes: sealing cannot
    /// shrink it), so a few of them fill a small file system.
    private func deliverMessage(_ inst: TestInstallation, number: Int) throws -> String {
        var generator = SeededGenerator(seed: UInt64(number + 1))
        let attachment = Data((0..<150_000).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        let base64 = attachment.base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn])
        let original = Data(["From: Alice <alice@corp.test>", "To: \(Self.recipients.joined(separator: ", "))",
                             "Subject: Figures \(number)", "Date: Wed, 25 Nov 2026 10:00:00 +0000",
                             "Message-ID: <figures-\(number)@corp.test>", "MIME-Version: 1.0",
                             "Content-Type: multipart/mixed; boundary=\"b\"", "", "--b",
                             "Content-Type: text/plain; charset=utf-8", "", "The figures, part \(number).", "--b",
                             "Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64",
                             "Content-Disposition: attachment; filename=\"figures-\(number).bin\"", "", base64,
                             "--b--", ""].joined(separator: "\r\n").utf8)
        var args = ["--to"] + Self.recipients + ["--from", "alice@corp.test"]
        for r in Self.recipients { args += ["--password", "\(r)=\(Self.password(r))"] }
        let name = String(format: "figures-%02d", number)
        try inst.deliver(try inst.wrap(original, arguments: args), name: name)
        return name
    }

    // MARK: - File systems

    /// Mounts a tmpfs of `kib` KiB over `dir`, with `dir`'s files and mode, so the installation
    /// goes on using the same paths.
    private func mountTmpfs(over dir: String, kib: Int) throws {
        let keep = dir + ".keep"
        try Shell.check("cp", ["-a", dir, keep])
        let mode = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int)
        try Shell.check("mount", ["-t", "tmpfs", "-o", "size=\(kib)k,mode=\(String(mode, radix: 8))", "tmpfs", dir])
        mounts.append(dir)
        try Shell.check("cp", ["-a", keep + "/.", dir])
        try FileManager.default.removeItem(atPath: keep)
    }

    /// What `dir` takes up on disk, in KiB (du), so a tmpfs can be made just a little larger.
    private func usedKiB(_ dir: String) throws -> Int {
        let out = try Shell.check("du", ["-sk", dir]).out
        return try XCTUnwrap(Int(out.split(separator: "\t").first ?? ""), "du -sk \(dir): \(out)")
    }
}
