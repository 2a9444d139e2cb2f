// Junk sent to the tunnel address cannot fill the disk (issue 15): each sweep removes from
// spool/failed what is older than spool.failed_days, with its .reason and its rejection row,
// and, while spool/failed holds more than spool.failed_max_mb, the oldest first. The
// quarantine totals of `status` never go down.
import Foundation
import TestSupport
import XCTest

final class FailedRetentionTests: XCTestCase {

    func testQuarantinedFilesOlderThanFailedDaysGoWithTheirReasonAndRowAndYoungerOnesStay() throws {
        let inst = try PerFileKit.installation(spool: ["failed_days = 30"])
        for name in ["1700000000.M1.old-junk", "1700000001.M2.young-junk", "1700000002.M3.moved-away"] {
            try inst.deliver(Data("junk \(name)\r\n".utf8), name: name)
        }
        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertEqual(inst.names(in: "failed").count, 6)
        XCTAssertEqual(try Self.rejectionRows(inst), ["1700000000.M1.old-junk", "1700000001.M2.young-junk", "1700000002.M3.moved-away"])

        // Quarantined 40 days ago (the time of its .reason), and 29 days ago.
        try Self.age(inst.spool("failed").appending(path: "1700000000.M1.old-junk.reason"), days: 40)
        try Self.age(inst.spool("failed").appending(path: "1700000001.M2.young-junk.reason"), days: 29)
        // An administrator moved one file away; its row is 40 days old.
        for suffix in ["", ".reason"] {
            try FileManager.default.removeItem(atPath: inst.spool("failed").appending(path: "1700000002.M3.moved-away" + suffix))
        }
        try Self.sql(inst, "UPDATE rejections SET rejected_at = '2000-01-01 00:00:00.000' WHERE spool_name = '1700000002.M3.moved-away'")

        let r = try inst.sweep()
        XCTAssertEqual(r.status, 0, r.err.suffix(1500).description)
        XCTAssertEqual(inst.names(in: "failed"), ["1700000001.M2.young-junk", "1700000001.M2.young-junk.reason"],
                       "the old file went with its reason, the young one stays")
        XCTAssertEqual(try Self.rejectionRows(inst), ["1700000001.M2.young-junk"], "the rows of the old file and the old row went")
        XCTAssertTrue(r.err.contains("removed by retention") && r.err.contains("1700000000.M1.old-junk"), "logged: \(r.err.suffix(1500))")
        let status = try inst.status()
        XCTAssertEqual(status["failed_total"] as? Int, 3, "the quarantine total never goes down: \(status)")
        XCTAssertEqual(status["failed_removed"] as? Int, 1, "files removed by retention are counted: \(status)")
    }

    func testOverFailedMaxMBTheOldestQuarantinedFilesGoFirst() throws {
        let inst = try PerFileKit.installation(spool: ["failed_max_mb = 1"])
        var rng = SeededGenerator(seed: 15)
        func junk() -> Data { Data((0..<400_000).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
        let a = junk(), b = junk(), c = junk()
        try inst.deliver(a, name: "1700000000.M1.a")
        try inst.deliver(b, name: "1700000001.M2.b")
        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertEqual(inst.names(in: "failed").count, 4, "800 KB fit in 1 MB")
        // b was quarantined before a.
        try Self.age(inst.spool("failed").appending(path: "1700000000.M1.a.reason"), days: 2)
        try Self.age(inst.spool("failed").appending(path: "1700000001.M2.b.reason"), days: 3)

        try inst.deliver(c, name: "1700000002.M3.c")
        let r = try inst.sweep()
        XCTAssertEqual(r.status, 0, r.err.suffix(1500).description)
        XCTAssertEqual(inst.names(in: "failed"), ["1700000000.M1.a", "1700000000.M1.a.reason", "1700000002.M3.c", "1700000002.M3.c.reason"],
                       "1.2 MB do not fit in 1 MB: the oldest (b) went")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: inst.spool("failed").appending(path: "1700000000.M1.a"))), a)
        XCTAssertEqual(try Self.rejectionRows(inst), ["1700000000.M1.a", "1700000002.M3.c"])
    }

    func testAFileQuarantinedUnderAShortenedNameGoesWithTheRowOfItsSpoolName() throws {
        let inst = try PerFileKit.installation(spool: ["failed_days = 30"])
        let long = "1700000000.M1." + String(repeating: "q", count: 255 - 14)
        try inst.deliver(Data("junk with a long name\r\n".utf8), name: long)
        try inst.deliver(Data("other junk\r\n".utf8), name: "1700000001.M2.short")
        XCTAssertEqual(try inst.sweep().status, 0)
        let short = try XCTUnwrap(inst.names(in: "failed").first { $0.hasPrefix("1700000000.M1.") && !$0.hasSuffix(".reason") })
        XCTAssertNotEqual(short, long)
        XCTAssertEqual(try Self.rejectionRows(inst), [long, "1700000001.M2.short"])

        try Self.age(inst.spool("failed").appending(path: short + ".reason"), days: 31)
        let r = try inst.sweep()
        XCTAssertEqual(r.status, 0, r.err.suffix(1500).description)
        XCTAssertEqual(inst.names(in: "failed"), ["1700000001.M2.short", "1700000001.M2.short.reason"])
        XCTAssertEqual(try Self.rejectionRows(inst), ["1700000001.M2.short"], "the row under the long spool name went with its file")
    }

    // MARK: - Helpers

    private static func age(_ path: String, days: Double) throws {
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-days * 86_400)], ofItemAtPath: path)
    }

    /// Runs SQL on the installation's state store (Python's sqlite3), returning the output.
    @discardableResult
    private static func sql(_ inst: TestInstallation, _ statement: String) throws -> String {
        let db = inst.root.appending(path: "state/spoolrun.sqlite")
        let script = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            for row in c.execute(sys.argv[2]): print(row[0])
            c.commit()
            """
        return try Shell.check("python3", ["-c", script, db, statement]).out
    }

    private static func rejectionRows(_ inst: TestInstallation) throws -> [String] {
        try sql(inst, "SELECT spool_name FROM rejections ORDER BY spool_name").split(separator: "\n").map(String.init)
    }
}
