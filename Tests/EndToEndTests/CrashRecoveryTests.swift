// A tunnel file leaves spool/new only after its record is durable. If a sweep dies after
// the commit and before (or during) the move, the next sweep finishes the move: no replay
// rejection, no second record.
import Foundation
import TestSupport
import XCTest

final class CrashRecoveryTests: XCTestCase {
    func testFileRecordedButNotMovedIsArchivedByTheNextSweepWithoutReplay() throws {
        let inst = try TestInstallation()
        let tunnel = try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test"])
        try inst.deliver(tunnel, name: "m1")
        XCTAssertEqual(try inst.sweep().status, 0)
        // The state a crash after the commit leaves: recorded, yet still in spool/new.
        XCTAssertEqual(rename(inst.spool("archive").appending(path: "m1"), inst.spool("new").appending(path: "m1")), 0)
        let run = try inst.sweep()
        XCTAssertEqual(run.status, 0)
        XCTAssertEqual(inst.names(in: "archive"), ["m1"])
        XCTAssertEqual(inst.names(in: "failed"), [], "not a replay: \(run.err)")
        XCTAssertEqual(try inst.status()["accepted"] as? Int, 1, "recorded once")
    }

    func testFileLinkedIntoTheArchiveButNotUnlinkedIsFinishedByTheNextSweep() throws {
        let inst = try TestInstallation()
        let tunnel = try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test"])
        try inst.deliver(tunnel, name: "m2")
        XCTAssertEqual(try inst.sweep().status, 0)
        // A crash between link() and unlink(): both names point at the same file.
        XCTAssertEqual(link(inst.spool("archive").appending(path: "m2"), inst.spool("new").appending(path: "m2")), 0)
        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertEqual(inst.names(in: "new"), [])
        XCTAssertEqual(inst.names(in: "archive"), ["m2"])
        XCTAssertEqual(inst.names(in: "failed"), [])
    }

    func testRejectedFileRecordedButNotMovedKeepsItsReasonAfterTheNextSweep() throws {
        let inst = try TestInstallation()
        try inst.deliver(Data("not a message".utf8), name: "bad")
        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertEqual(rename(inst.spool("failed").appending(path: "bad"), inst.spool("new").appending(path: "bad")), 0)
        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertEqual(inst.names(in: "failed"), ["bad", "bad.reason"])
        XCTAssertEqual(inst.reasonCode("bad"), "malformed-mime")
    }

    func testSameNameWithOtherContentDoesNotOverwriteTheArchivedFile() throws {
        let inst = try TestInstallation()
        let first = try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test"])
        try inst.deliver(first, name: "dup")
        XCTAssertEqual(try inst.sweep().status, 0)
        let second = try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "carol@ext.test"])
        try inst.deliver(second, name: "dup")
        XCTAssertEqual(try inst.sweep().status, 0)
        let archived = inst.names(in: "archive")
        XCTAssertEqual(archived.count, 2, "\(archived)")
        XCTAssertTrue(archived.allSatisfy { $0.hasPrefix("dup") }, "archive names contain the spool name")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: inst.spool("archive").appending(path: "dup"))), first)
    }
}
