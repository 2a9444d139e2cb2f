// Reading nginx's receipt log from where the last sweep stopped, across both kinds of log
// rotation (DESIGN §6): nothing is lost, a partial line waits, junk is skipped.
import Foundation
@testable import Spool
import TestSupport
import XCTest

final class ReceiptLogTests: XCTestCase {
    private var dir: TemporaryDirectory!
    private var path: String { dir.file("receipts.log") }

    override func setUpWithError() throws { dir = try TemporaryDirectory() }

    private func token(_ n: Int) -> String { String(format: "tok%013d-AbCdEfGh_", n) }
    private func line(_ n: Int) -> String { "2026-11-25T10:00:\(String(format: "%02d", n % 60))+00:00 /r/\(token(n))\n" }

    private func append(_ text: String, to file: String? = nil) throws {
        let target = file ?? path
        if !FileManager.default.fileExists(atPath: target) { FileManager.default.createFile(atPath: target, contents: nil) }
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: target))
        try h.seekToEnd()
        try h.write(contentsOf: Data(text.utf8))
        try h.close()
    }

    private func read(_ position: inout ReceiptLogPosition?) throws -> [String] {
        let (lines, next) = try ReceiptLog(path: path).read(from: position)
        position = next
        return lines.map(\.token)
    }

    func testLinesAreReadOnceFromWhereTheLastSweepStopped() throws {
        var pos: ReceiptLogPosition?
        XCTAssertEqual(try read(&pos), [], "no log yet")
        try append(line(1) + line(2))
        XCTAssertEqual(try read(&pos), [token(1), token(2)])
        XCTAssertEqual(try read(&pos), [])
        try append(line(3))
        XCTAssertEqual(try read(&pos), [token(3)])
    }

    func testAPartialLineWaitsUntilItIsComplete() throws {
        var pos: ReceiptLogPosition?
        let full = line(4)
        try append(line(3) + String(full.prefix(20)))
        XCTAssertEqual(try read(&pos), [token(3)])
        try append(String(full.dropFirst(20)))
        XCTAssertEqual(try read(&pos), [token(4)])
    }

    func testMalformedLinesAndOtherPathsAreSkipped() throws {
        var pos: ReceiptLogPosition?
        try append("garbage\n\n2026-11-25T10:00:00+00:00 /index.html\nnot-a-time /r/\(token(9))\n"
                   + "2026-11-25T10:00:00+00:00 /r/short\n2026-11-25T10:00:00+00:00 /r/\(token(5))/../x\n"
                   + "2026-11-25T10:00:00+00:00 /r/\(token(5)) extra\n" + line(6))
        XCTAssertEqual(try read(&pos), [token(6)])
    }

    func testRenameRotationLosesNothingWrittenBeforeOrAfterIt() throws {
        var pos: ReceiptLogPosition?
        try append(line(1))
        XCTAssertEqual(try read(&pos), [token(1)])
        try append(line(2))  // written after the last read, before the rotation
        XCTAssertEqual(rename(path, path + ".1"), 0)
        try append(line(3))  // nginx reopened: a new file
        XCTAssertEqual(try read(&pos), [token(2), token(3)])
        XCTAssertEqual(try read(&pos), [])
        // A second rotation: the old file is now .2, and the reader followed the new one.
        try append(line(4))
        XCTAssertEqual(rename(path + ".1", path + ".2"), 0)
        XCTAssertEqual(rename(path, path + ".1"), 0)
        try append(line(5))
        XCTAssertEqual(try read(&pos), [token(4), token(5)])
    }

    func testCopyTruncateRotationLosesNothingWrittenBeforeOrAfterIt() throws {
        var pos: ReceiptLogPosition?
        try append(line(1))
        XCTAssertEqual(try read(&pos), [token(1)])
        try append(line(2))
        // logrotate's copytruncate: copy, then truncate the same file in place.
        try FileManager.default.copyItem(atPath: path, toPath: path + ".1")
        XCTAssertEqual(truncate(path, 0), 0)
        try append(line(3))
        XCTAssertEqual(try read(&pos), [token(2), token(3)])
        XCTAssertEqual(try read(&pos), [])
    }

    func testTwoRenameRotationsBetweenSweepsLoseNothing() throws {
        var pos: ReceiptLogPosition?
        try append(line(1))
        XCTAssertEqual(try read(&pos), [token(1)])
        try append(line(2))
        XCTAssertEqual(rename(path, path + ".1"), 0)
        try append(line(3))
        XCTAssertEqual(rename(path + ".1", path + ".2"), 0)
        XCTAssertEqual(rename(path, path + ".1"), 0)
        try append(line(4))
        XCTAssertEqual(try read(&pos), [token(2), token(3), token(4)])
    }

    func testTwoCopyTruncateRotationsBetweenSweepsLoseNothing() throws {
        var pos: ReceiptLogPosition?
        try append(line(1))
        XCTAssertEqual(try read(&pos), [token(1)])
        try append(line(2))
        try FileManager.default.copyItem(atPath: path, toPath: path + ".1")
        XCTAssertEqual(truncate(path, 0), 0)
        try append(line(3))
        XCTAssertEqual(rename(path + ".1", path + ".2"), 0)
        try FileManager.default.copyItem(atPath: path, toPath: path + ".1")
        XCTAssertEqual(truncate(path, 0), 0)
        try append(line(4))
        XCTAssertEqual(try read(&pos), [token(2), token(3), token(4)])
    }

    func testWhenTheOldFileIsGoneEveryUncompressedSiblingIsReadWhole() throws {
        var pos: ReceiptLogPosition?
        try append(line(1))
        XCTAssertEqual(try read(&pos), [token(1)])
        try append(line(2))
        XCTAssertEqual(rename(path, path + ".1"), 0)
        try append(line(3))
        XCTAssertEqual(rename(path + ".1", path + ".2.gz"), 0)  // compressed: not readable
        XCTAssertEqual(rename(path, path + ".1"), 0)
        try append(line(4))
        XCTAssertEqual(try read(&pos), [token(3), token(4)])
    }
}
