// `spoolrun setup --dir D` gives D/www the portal app, so an installation anywhere works.
import Foundation
import TestSupport
import XCTest

final class SetupPortalAppTests: XCTestCase {
    func testSetupInstallsThePortalAppIntoTheNewWebRoot() throws {
        let scratch = try TemporaryDirectory()
        let dir = scratch.file("inst")
        try Shell.check(Paths.spoolrun, ["setup", "--dir", dir])
        for file in ["index.html", "assets/app.js", "assets/sealed.js", "assets/strings.js", "assets/app.css"] {
            let installed = FileManager.default.contents(atPath: dir + "/www/" + file)
            XCTAssertNotNil(installed, file)
            XCTAssertEqual(installed, FileManager.default.contents(atPath: Paths.repo + "/www/" + file), file)
        }
    }

    func testSetupRefusesAnAppDirectoryWithoutTheApp() throws {
        let scratch = try TemporaryDirectory()
        let r = try Shell.run(Paths.spoolrun, ["setup", "--dir", scratch.file("inst"), "--app", scratch.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("--app") && r.err.contains(scratch.path), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("inst")), "nothing is left behind")
    }
}
