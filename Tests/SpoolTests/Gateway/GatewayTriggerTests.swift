// How the gateway recognises "encrypt" and "OTP PDF" requests (issue 7): case-insensitively,
// in an RFC 2047 encoded subject too, and the subject tag is removed from what the recipient sees.
import Mail
@testable import Spool
import XCTest

final class GatewayTriggerTests: XCTestCase {
    func subject(ofHeader header: String) throws -> String? {
        try MessageParser.parse(Array("From: a@corp.example\r\nTo: b@ext.example\r\nSubject: \(header)\r\n\r\nbody\r\n".utf8)).subject
    }

    func testASubjectTagIsRecognisedInAnyCaseAndInsideAnEncodedWordAndRemovedFromTheSubject() throws {
        let tag = try XCTUnwrap(GatewayTrigger.parse("subject:[secure]"))
        for (header, stripped) in [
            ("[secure] Quarterly figures", "Quarterly figures"),
            ("Quarterly figures [SECURE]", "Quarterly figures"),
            ("Re: [Secure]  Vertrag", "Re: Vertrag"),
            ("=?utf-8?q?=5Bsecure=5D_Gr=C3=BC=C3=9Fe?=", "Grüße"),
            ("=?UTF-8?B?W1NFQ1VSRV0g0J/RgNC40LLQtdGC?=", "Привет"),
        ] {
            let decoded = try XCTUnwrap(try subject(ofHeader: header), header)
            XCTAssertTrue(tag.matches(subject: decoded, headers: []), header)
            XCTAssertEqual(tag.strippingTag(from: decoded), stripped, header)
        }
        for header in ["Quarterly figures", "[secur] e", "=?utf-8?q?secure?="] {
            XCTAssertFalse(tag.matches(subject: try subject(ofHeader: header), headers: []), header)
        }
        XCTAssertFalse(tag.matches(subject: nil, headers: []))
    }

    func testAHeaderTriggerMatchesNameAndValueWithoutCaseAndOtherTriggersLeaveTheSubject() throws {
        let header = try XCTUnwrap(GatewayTrigger.parse("header:X-Encrypt: mandatory"))
        XCTAssertTrue(header.matches(subject: nil, headers: [("x-encrypt", "  Mandatory ")]))
        XCTAssertFalse(header.matches(subject: nil, headers: [("X-Encrypt", "optional")]))
        XCTAssertFalse(header.matches(subject: "X-Encrypt: mandatory", headers: []), "a subject is not a header")
        let any = try XCTUnwrap(GatewayTrigger.parse("header:X-OTP-PDF"))
        XCTAssertTrue(any.matches(subject: nil, headers: [("X-Otp-Pdf", "yes")]))
        XCTAssertEqual(header.strippingTag(from: "[secure] x"), "[secure] x")
        XCTAssertEqual(GatewayTrigger.parse("ALWAYS"), .always)
        XCTAssertTrue(GatewayTrigger.always.matches(subject: nil, headers: []))
        for bad in ["", "subject:", "header:", "header:X Encrypt", "sometimes"] {
            XCTAssertNil(GatewayTrigger.parse(bad), bad)
        }
    }
}
