// deploy/nginx/spoolrun.conf (the production site) must not drift from the nginx.conf that
// `spoolrun setup` writes: the same http-level lines and the same portal locations, with
// only the production paths and an HSTS header in every location added. Both take their
// locations from one template (Sources/Spool/Installation/Templates/portal-locations.conf.in):
// setup through InstallationFiles, the site through scripts/nginx-site.sh (`make nginx-site`,
// `make install`).
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

    /// `make install` installs the site as scripts/nginx-site.sh makes it from the template;
    /// that is the site checked in (which the end-to-end tests serve), byte for byte.
    func testTheSiteMadeFromTheTemplateForMakeInstallIsTheCheckedInSite() throws {
        let made = try Shell.check(Paths.repo.appending(path: "scripts/nginx-site.sh"), [], timeout: 30)
        let site = try String(contentsOfFile: Paths.repo.appending(path: "deploy/nginx/spoolrun.conf"), encoding: .utf8)
        XCTAssertEqual(made.out, site, "deploy/nginx/spoolrun.conf is not what its template gives: run `make nginx-site`")
    }
}
