// The end-to-end tests run the spoolrun binary of the build they belong to: `make test-asan`
// must exercise the AddressSanitizer build's binary (and its leak check), not .build/debug's.
import Foundation
import TestSupport
import XCTest

final class BuildUnderTestTests: XCTestCase {
    func testTheEndToEndTestsDriveTheSpoolrunBinaryOfTheirOwnBuild() throws {
        let runner = try XCTUnwrap(Bundle.main.executableURL, "no test runner path").resolvingSymlinksInPath()
        let binary = URL(fileURLWithPath: Paths.spoolrun).resolvingSymlinksInPath()
        XCTAssertEqual(binary.deletingLastPathComponent().path, runner.deletingLastPathComponent().path,
                       "spoolrun \(binary.path) is not from the build of the test runner \(runner.path)")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary.path), binary.path)
    }
}
