// Reading nginx's receipt log from where the last sweep stopped, across both kinds of log
// rotation (DESIGN §6): nothing is lost, a partial line waits, junk is skipped; a backlog
// larger than a slice is read slice by slice, each slice bounded, and nothing is dropped.
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

    // MARK: - Bounded slices (issue 15)

    /// Reads slice after slice (at most `sliceBytes` each) until no progress, bounded; returns
    /// every token in order and the most lines any one slice gave.
    private func readToEnd(_ position: inout ReceiptLogPosition?, sliceBytes: Int) throws -> (tokens: [String], largest: Int) {
        var log = ReceiptLog(path: path)
        log.sliceBytes = sliceBytes
        var tokens: [String] = []
        var largest = 0
        for _ in 0..<10_000 {
            let (lines, next) = try log.read(from: position)
            if lines.isEmpty && next == position { return (tokens, largest) }
            position = next
            tokens += lines.map(\.token)
            largest = max(largest, lines.count)
        }
        XCTFail("the reader did not reach the end of the log in 10,000 slices")
        return (tokens, largest)
    }

    func testASliceSmallerThanTheBacklogStillYieldsEveryLineOnceAcrossARenameRotation() throws {
        var pos: ReceiptLogPosition?
        try append(line(0))
        XCTAssertEqual(try read(&pos), [token(0)])
        try append((1...1000).map(line).joined())
        XCTAssertEqual(rename(path, path + ".1"), 0)
        try append((1001...2000).map(line).joined())
        XCTAssertEqual(rename(path + ".1", path + ".2"), 0)
        XCTAssertEqual(rename(path, path + ".1"), 0)
        try append((2001...2500).map(line).joined())
        let slice = 10 * line(0).utf8.count + 7  // ten lines and a bit: slices end mid-line and mid-file
        let (tokens, largest) = try readToEnd(&pos, sliceBytes: slice)
        XCTAssertEqual(tokens, (1...2500).map(token), "every line, once, in order, across both rotated files")
        XCTAssertLessThanOrEqual(largest, 10, "no slice reads more than its bytes allow")
        XCTAssertEqual(try readToEnd(&pos, sliceBytes: slice).tokens, [], "nothing again")
        try append(line(2501))
        XCTAssertEqual(try readToEnd(&pos, sliceBytes: slice).tokens, [token(2501)])
    }

    func testASliceSmallerThanTheBacklogStillYieldsEveryLineOnceAcrossACopyTruncateRotation() throws {
        var pos: ReceiptLogPosition?
        try append(line(0))
        XCTAssertEqual(try read(&pos), [token(0)])
        try append((1...1000).map(line).joined())
        try FileManager.default.copyItem(atPath: path, toPath: path + ".1")
        XCTAssertEqual(truncate(path, 0), 0)
        try append((1001...1300).map(line).joined())
        let slice = 10 * line(0).utf8.count + 7
        // The first slices, then another copytruncate while the copy is still being read.
        var log = ReceiptLog(path: path)
        log.sliceBytes = slice
        var tokens: [String] = []
        for _ in 0..<3 {
            let (lines, next) = try log.read(from: pos)
            tokens += lines.map(\.token)
            pos = next
        }
        XCTAssertEqual(rename(path + ".1", path + ".2"), 0)
        try FileManager.default.copyItem(atPath: path, toPath: path + ".1")
        XCTAssertEqual(truncate(path, 0), 0)
        try append((1301...1400).map(line).joined())
        tokens += try readToEnd(&pos, sliceBytes: slice).tokens
        XCTAssertEqual(tokens, (1...1400).map(token), "every line, once, in order")
    }

    func testALineLongerThanASliceIsSkippedAndTheReceiptsAfterItAreRead() throws {
        var pos: ReceiptLogPosition?
        try append(line(1) + "2026-11-25T10:00:00+00:00 /r/" + String(repeating: "A", count: 5000) + "\n" + line(2))
        let (tokens, _) = try readToEnd(&pos, sliceBytes: 200)
        XCTAssertEqual(tokens, [token(1), token(2)])
        // A rotated file's unterminated last line is no receipt; the reader moves on past it.
        try append(line(3) + "2026-11-25T10:00:00+00:00 /r/cut-off")
        XCTAssertEqual(rename(path, path + ".1"), 0)
        try append(line(4))
        XCTAssertEqual(try readToEnd(&pos, sliceBytes: 200).tokens, [token(3), token(4)])
    }
}
