// gateway.toml's webmail settings (issue 7): what setup writes, what can be set, and a clear
// error naming the key for a value that cannot be used.
import Foundation
@testable import Spool
import TestSupport
import XCTest

final class GatewayConfigTests: XCTestCase {
    func testSetupWritesTheWebmailSettingsWithSafeDefaultsAndEachCanBeSet() throws {
        let dir = try TemporaryDirectory()
        let inst = try Setup.run(SetupOptions(directory: dir.file("inst")))
        let defaults = try GatewayConfig.load(path: inst.gatewayConfig)
        XCTAssertEqual(defaults.routing, GatewayRoutingSettings(enabled: true, onlyIfMandatory: true, otpEnabled: false, readReceipt: .never),
                       "by default only mail marked as must-encrypt goes to webmail")
        XCTAssertNil(defaults.postmaster)
        XCTAssertEqual(defaults.mandatory, .subjectTag("[secure]"))
        XCTAssertEqual(defaults.otpPDF, .subjectTag("[otp]"))
        XCTAssertNil(defaults.directRecipients)
        XCTAssertNil(defaults.otpRecipients)
        XCTAssertEqual(defaults.journal, inst.gateway + "/journal", "the journal beside gateway.toml")
        XCTAssertEqual(defaults.sendmail, "/usr/sbin/sendmail")

        var text = try String(contentsOfFile: inst.gatewayConfig, encoding: .utf8)
        for (from, to) in [("read_receipt = false", "read_receipt = \"when-asked\""), ("only_if_mandatory = true", "only_if_mandatory = false"), ("# postmaster = \"postmaster@corp.example\"", "postmaster = \"Postmaster@Corp.example\""),
                           ("otp_enabled = false", "otp_enabled = true"), ("mandatory = \"subject:[secure]\"", "mandatory = \"header:X-Encrypt: mandatory\""),
                           ("# direct_recipients", "direct_recipients"), ("# otp_recipients", "otp_recipients"),
                           ("journal = \"journal\"", "journal = \"/var/lib/spoolrun-gateway/journal\""),
                           ("\nenabled = true", "\nenabled = false")] {
            XCTAssertTrue(text.contains(from), from)
            text = text.replacingOccurrences(of: from, with: to)
        }
        try text.write(toFile: inst.gatewayConfig, atomically: true, encoding: .utf8)
        let set = try GatewayConfig.load(path: inst.gatewayConfig)
        XCTAssertEqual(set.routing, GatewayRoutingSettings(enabled: false, onlyIfMandatory: false, otpEnabled: true, readReceipt: .whenAsked))
        XCTAssertEqual(set.postmaster, "postmaster@corp.example")
        XCTAssertEqual(set.mandatory, .header(name: "X-Encrypt", value: "mandatory"))
        XCTAssertEqual(set.directRecipients, inst.gateway + "/direct-recipients.txt", "relative to the gateway folder")
        XCTAssertEqual(set.otpRecipients, inst.gateway + "/otp-recipients.txt")
        XCTAssertEqual(set.journal, "/var/lib/spoolrun-gateway/journal")
    }

    func testAWebmailSettingThatCannotBeUsedIsAnErrorNamingFileAndKey() throws {
        let dir = try TemporaryDirectory()
        let inst = try Setup.run(SetupOptions(directory: dir.file("inst")))
        let original = try String(contentsOfFile: inst.gatewayConfig, encoding: .utf8)
        for (from, to, key) in [("read_receipt = false", "read_receipt = \"sometimes\"", "gateway.read_receipt"),
                                ("mandatory = \"subject:[secure]\"", "mandatory = \"subject:\"", "gateway.mandatory"),
                                ("otp_enabled = false", "otp_enabled = \"yes\"", "gateway.otp_enabled")] {
            try original.replacingOccurrences(of: from, with: to).write(toFile: inst.gatewayConfig, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try GatewayConfig.load(path: inst.gatewayConfig)) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(inst.gatewayConfig) && message.contains(key), message)
            }
        }
    }
}
