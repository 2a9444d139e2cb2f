// FileSystemCondition adds what statvfs says to a state-store error only when it explains it
// (full or read-only; FullFileSystemTests shows both on real file systems).
import Foundation
@testable import Spool
import XCTest

final class FileSystemConditionTests: XCTestCase {
    func testAWritableFileSystemWithSpaceAddsNothingToAnError() {
        let dir = NSTemporaryDirectory()
        XCTAssertNil(FileSystemCondition.note(for: dir))
        XCTAssertEqual(FileSystemCondition.explained("SQLite error 10: disk I/O error", in: dir),
                       "SQLite error 10: disk I/O error")
    }

    func testAPathThatCannotBeExaminedAddsNothingToAnError() {
        XCTAssertNil(FileSystemCondition.note(for: "/nonexistent/spoolrun-\(getpid())"))
    }
}
