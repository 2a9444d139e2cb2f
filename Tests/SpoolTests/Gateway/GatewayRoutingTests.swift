// The gateway's routing decision (issue 7): every combination of enabled, only_if_mandatory,
// otp_enabled, mandatory or allowed, direct-capable or not, and an OTP-PDF request; and the
// read-receipt flag for each policy.
@testable import Spool
import XCTest

final class GatewayRoutingTests: XCTestCase {
    /// enabled, only_if_mandatory, otp_enabled, mandatory, direct-capable, OTP requested -> route.
    /// Written out from the rules: disabled or direct-capable pass through; an OTP
    /// request goes to webmail as otp-pdf with otp_enabled, else passes through marked for the
    /// gateway's PDF encryption; mandatory goes to webmail; allowed goes to webmail unless
    /// only_if_mandatory.
    static let table = [
        "0 0 0 0 0 0  pass",
        "0 0 0 0 0 1  pass",
        "0 0 0 0 1 0  pass",
        "0 0 0 0 1 1  pass",
        "0 0 0 1 0 0  pass",
        "0 0 0 1 0 1  pass",
        "0 0 0 1 1 0  pass",
        "0 0 0 1 1 1  pass",
        "0 0 1 0 0 0  pass",
        "0 0 1 0 0 1  pass",
        "0 0 1 0 1 0  pass",
        "0 0 1 0 1 1  pass",
        "0 0 1 1 0 0  pass",
        "0 0 1 1 0 1  pass",
        "0 0 1 1 1 0  pass",
        "0 0 1 1 1 1  pass",
        "0 1 0 0 0 0  pass",
        "0 1 0 0 0 1  pass",
        "0 1 0 0 1 0  pass",
        "0 1 0 0 1 1  pass",
        "0 1 0 1 0 0  pass",
        "0 1 0 1 0 1  pass",
        "0 1 0 1 1 0  pass",
        "0 1 0 1 1 1  pass",
        "0 1 1 0 0 0  pass",
        "0 1 1 0 0 1  pass",
        "0 1 1 0 1 0  pass",
        "0 1 1 0 1 1  pass",
        "0 1 1 1 0 0  pass",
        "0 1 1 1 0 1  pass",
        "0 1 1 1 1 0  pass",
        "0 1 1 1 1 1  pass",
        "1 0 0 0 0 0  webmail",
        "1 0 0 0 0 1  pass+pdf",
        "1 0 0 0 1 0  pass",
        "1 0 0 0 1 1  pass",
        "1 0 0 1 0 0  webmail",
        "1 0 0 1 0 1  pass+pdf",
        "1 0 0 1 1 0  pass",
        "1 0 0 1 1 1  pass",
        "1 0 1 0 0 0  webmail",
        "1 0 1 0 0 1  otp",
        "1 0 1 0 1 0  pass",
        "1 0 1 0 1 1  pass",
        "1 0 1 1 0 0  webmail",
        "1 0 1 1 0 1  otp",
        "1 0 1 1 1 0  pass",
        "1 0 1 1 1 1  pass",
        "1 1 0 0 0 0  pass",
        "1 1 0 0 0 1  pass+pdf",
        "1 1 0 0 1 0  pass",
        "1 1 0 0 1 1  pass",
        "1 1 0 1 0 0  webmail",
        "1 1 0 1 0 1  pass+pdf",
        "1 1 0 1 1 0  pass",
        "1 1 0 1 1 1  pass",
        "1 1 1 0 0 0  pass",
        "1 1 1 0 0 1  otp",
        "1 1 1 0 1 0  pass",
        "1 1 1 0 1 1  pass",
        "1 1 1 1 0 0  webmail",
        "1 1 1 1 0 1  otp",
        "1 1 1 1 1 0  pass",
        "1 1 1 1 1 1  pass",
    ]

    func testEveryCombinationOfTheWebmailSettingsRoutesAsTheRulesSay() {
        XCTAssertEqual(Self.table.count, 64, "2^6 combinations")
        for row in Self.table {
            let f = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            let bit = { (i: Int) in f[i] == "1" }
            let settings = GatewayRoutingSettings(enabled: bit(0), onlyIfMandatory: bit(1), otpEnabled: bit(2), readReceipt: .never)
            let traits = MessageTraits(encryptionMandatory: bit(3), otpRequested: bit(5), asksForReadReceipt: false)
            let expected: GatewayRoute
            switch f[6] {
            case "pass": expected = .passThrough(gatewayPDF: false)
            case "pass+pdf": expected = .passThrough(gatewayPDF: true)
            case "webmail": expected = .webmail(delivery: .webmail, readReceipt: false)
            default: expected = .webmail(delivery: .otpPDF, readReceipt: false)
            }
            XCTAssertEqual(GatewayRouting.route(settings, traits, directCapable: bit(4)), expected, row)
        }
    }

    func testTheReadReceiptFlagFollowsTheSettingAndADispositionNotificationToHeaderWhenAllowed() {
        let cases: [(ReadReceiptPolicy, Bool, Bool)] = [
            (.never, false, false), (.never, true, false),
            (.always, false, true), (.always, true, true),
            (.whenAsked, false, false), (.whenAsked, true, true),
        ]
        for (policy, asks, expected) in cases {
            let settings = GatewayRoutingSettings(enabled: true, onlyIfMandatory: false, otpEnabled: true, readReceipt: policy)
            for otp in [false, true] {
                let route = GatewayRouting.route(settings, MessageTraits(encryptionMandatory: true, otpRequested: otp, asksForReadReceipt: asks),
                                                 directCapable: false)
                XCTAssertEqual(route, .webmail(delivery: otp ? .otpPDF : .webmail, readReceipt: expected), "\(policy) asks=\(asks)")
            }
        }
        // Passed-through mail carries no webmail flag at all.
        let off = GatewayRoutingSettings(enabled: false, onlyIfMandatory: false, otpEnabled: true, readReceipt: .always)
        XCTAssertEqual(GatewayRouting.route(off, MessageTraits(encryptionMandatory: true, otpRequested: false, asksForReadReceipt: true),
                                            directCapable: false), .passThrough(gatewayPDF: false))
    }
}
