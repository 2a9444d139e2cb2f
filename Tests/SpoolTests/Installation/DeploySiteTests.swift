// deploy/nginx/spoolrun.conf (the production site) must not drift from the nginx.conf that
// `spoolrun setup` writes: the same http-level lines and the same portal locations, with
// only the production paths and an HSTS header in every location added.
import Foundation
@testable import Spool
import TestSupport
import XCTest

final class DeploySiteTests: XCTestCase {
    func testTheProductionSiteHasSetupsPortalLocationsPlusHSTSInEveryLocation() throws {
        let site = try String(contentsOfFile: Paths.repo.appending(path: "deploy/nginx/spoolrun.conf"), encoding: .utf8)
        let hsts = "add_header Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always;"
        let expected = InstallationFiles.indent(
            InstallationFiles.portalLocations(www: "/var/lib/spoolrun/www", receiptLog: "/var/log/spoolrun/receipts.log",
                                              accessLog: "/var/log/nginx/spoolrun-access.log",
                                              extraHeaders: [hsts]), 4)
        XCTAssertTrue(site.contains(expected), "the portal locations in deploy/nginx/spoolrun.conf differ from setup's; expected:\n\(expected)")
        XCTAssertTrue(site.contains(InstallationFiles.httpDirectives), "the http-level lines differ from setup's")
        let locations = expected.components(separatedBy: "location ").count - 1
        // Every location that adds headers carries HSTS (the dot-file one only returns 404).
        XCTAssertEqual(expected.components(separatedBy: hsts).count - 1, locations - 1)
    }
}
