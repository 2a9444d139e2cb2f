// The envelope's rules (DESIGN §4), one case per rule.
import Crypto
import Foundation
@testable import Tunnel
import XCTest

final class TunnelEnvelopeTests: XCTestCase {
    let valid: [String: Any] = [
        "version": 1, "id": "abc12345-XYZ_.9", "created": "2026-11-25T10:00:00Z", "sender": "Alice@Corp.Example",
        "recipients": ["Bob@Ext.Example", "carol@ext.example"], "read_receipt": true, "delivery": "webmail",
    ]

    func parse(_ fields: [String: Any]) -> Result<TunnelEnvelope, Rejection> {
        let data = try! JSONSerialization.data(withJSONObject: fields)
        do { return .success(try TunnelEnvelope.parse([UInt8](data))) } catch { return .failure(error) }
    }

    func assertMalformed(_ fields: [String: Any], mentions: String, file: StaticString = #filePath, line: UInt = #line) {
        switch parse(fields) {
        case .success: XCTFail("accepted an envelope that breaks a rule (\(mentions))", file: file, line: line)
        case .failure(let r):
            XCTAssertEqual(r.code, .malformedEnvelope, file: file, line: line)
            XCTAssertTrue(r.sentence.contains(mentions), "\(r.sentence) should mention \(mentions)", file: file, line: line)
        }
    }

    func testValidEnvelopeParsesWithAddressesTrimmedAndLowerCased() throws {
        let e = try parse(valid).get()
        XCTAssertEqual(e.sender, "alice@corp.example")
        XCTAssertEqual(e.recipients, ["bob@ext.example", "carol@ext.example"])
        XCTAssertTrue(e.readReceipt)
        XCTAssertEqual(e.delivery, .webmail)
        XCTAssertNil(e.expires)
    }

    func testEveryRequiredFieldIsRequired() {
        for key in ["version", "id", "created", "sender", "recipients", "read_receipt", "delivery"] {
            var f = valid
            f.removeValue(forKey: key)
            assertMalformed(f, mentions: key)
        }
    }

    func testWrongTypesAreMalformed() {
        var f = valid; f["read_receipt"] = "yes"; assertMalformed(f, mentions: "read_receipt")
        f = valid; f["recipients"] = "bob@ext.example"; assertMalformed(f, mentions: "recipients")
        f = valid; f["version"] = "1"; assertMalformed(f, mentions: "version")
    }

    func testOnlyVersion1IsAccepted() {
        var f = valid; f["version"] = 2
        assertMalformed(f, mentions: "version")
    }

    func testIDMustBe8To128SafeCharacters() {
        for bad in ["short", String(repeating: "a", count: 129), "has space1", "slash/../x", "ümlaut123"] {
            var f = valid; f["id"] = bad
            assertMalformed(f, mentions: "id")
        }
        var f = valid; f["id"] = String(repeating: "a", count: 128)
        XCTAssertNoThrow(try parse(f).get())
    }

    func testCreatedMustBeAnRFC3339Time() {
        var f = valid; f["created"] = "yesterday"
        assertMalformed(f, mentions: "created")
    }

    func testRecipientsMustBe1To100ValidAddresses() {
        var f = valid; f["recipients"] = [String]()
        assertMalformed(f, mentions: "recipients")
        f["recipients"] = (0...100).map { "r\($0)@ext.example" }
        assertMalformed(f, mentions: "recipients")
        f["recipients"] = ["bob@ext.example", "not an address"]
        assertMalformed(f, mentions: "recipient #2")
    }

    func testDeliveryIsWebmailOrOTPPDF() throws {
        var f = valid; f["delivery"] = "fax"
        assertMalformed(f, mentions: "delivery")
        f["delivery"] = "otp-pdf"
        XCTAssertEqual(try parse(f).get().delivery, .otpPDF)
    }

    func testPasswordsMustBelongToRecipients() throws {
        var f = valid; f["passwords"] = ["mallory@evil.example": "pw-mallory-strong-1"]
        assertMalformed(f, mentions: "not a recipient")
        f["passwords"] = ["BOB@ext.example": "pw-bob-strong-1"]
        XCTAssertEqual(try parse(f).get().passwords, ["bob@ext.example": "pw-bob-strong-1"])
    }

    func testAPasswordUnder12CharactersIsMalformedNamingTheAddressButNotThePassword() {
        var f = valid; f["passwords"] = ["carol@ext.example": "tulip-river-48-anchor", "Bob@Ext.Example": "Tiny-pw-77"]
        assertMalformed(f, mentions: "password for bob@ext.example that is too short (10 characters, at least 12)")
        if case .failure(let r) = parse(f) { XCTAssertFalse(r.description.contains("Tiny-pw-77"), r.description) }
    }

    func testACommonPasswordIsMalformedNamingTheAddressButNotThePassword() {
        var f = valid; f["passwords"] = ["bob@ext.example": "PASSWORD-1234"]
        assertMalformed(f, mentions: "password for bob@ext.example that is a common password")
        if case .failure(let r) = parse(f) { XCTAssertFalse(r.description.lowercased().contains("password-1234"), r.description) }
        f["passwords"] = ["bob@ext.example": "bobbobbobbob"]
        assertMalformed(f, mentions: "password for bob@ext.example that is made from the address")
    }

    func testAStrongPasswordIsAccepted() throws {
        var f = valid; f["passwords"] = ["bob@ext.example": "tulip-river-48-anchor", "carol@ext.example": PasswordGenerator.generate()]
        XCTAssertEqual(try parse(f).get().passwords["bob@ext.example"], "tulip-river-48-anchor")
    }

    func testUnknownFieldsAreMalformed() {
        var f = valid; f["recipientz"] = ["x@y.example"]
        assertMalformed(f, mentions: "recipientz")
    }

    func testNotJSONIsMalformed() {
        XCTAssertThrowsError(try TunnelEnvelope.parse(Array("{nope".utf8))) { error in
            XCTAssertEqual((error as? Rejection)?.code, .malformedEnvelope)
        }
    }

    func testJSONRoundTripKeepsEveryField() throws {
        let e = TunnelEnvelope(id: "roundtrip-0001", created: Date(timeIntervalSince1970: 1_800_000_000), sender: "a@b.example",
                               recipients: ["c@d.example"], readReceipt: true, delivery: .otpPDF,
                               expires: Date(timeIntervalSince1970: 1_900_000_000), passwords: ["c@d.example": "pw-round-trip-1"])
        XCTAssertEqual(try TunnelEnvelope.parse(e.json()), e)
    }
}

final class EmailAddressTests: XCTestCase {
    func testPlausibleAddressesAreValid() {
        for a in ["bob@ext.example", " Bob@Ext.Example ", "first.last+tag@sub.domain.example", "x@a-b.example"] {
            XCTAssertTrue(EmailAddress.isValid(a), a)
        }
    }

    func testImplausibleAddressesAreInvalid() {
        for a in ["", "bob", "bob@", "@ext.example", "bob@localhost", "a@@b.example", "a b@c.example", "a@-b.example",
                  ".a@b.example", "a..b@c.example", "a@b..example", "\"q\"@b.example", "a@b.example\n"] where !a.hasSuffix("\n") {
            XCTAssertFalse(EmailAddress.isValid(a), a)
        }
    }

    func testAddressesAreTrimmedAndLowerCasedBeforeUse() {
        XCTAssertEqual(EmailAddress.normalize("  Bob@Ext.Example\t"), "bob@ext.example")
    }
}

final class RFC3339Tests: XCTestCase {
    func testRFC3339TimesParseToTheRightInstant() {
        XCTAssertEqual(TunnelEnvelope.parseTime("1970-01-01T00:00:00Z")?.timeIntervalSince1970, 0)
        XCTAssertEqual(TunnelEnvelope.parseTime("2026-11-25T10:00:00Z")?.timeIntervalSince1970, 1_795_600_800)
        XCTAssertEqual(TunnelEnvelope.parseTime("2026-11-25T11:30:00+01:30")?.timeIntervalSince1970, 1_795_600_800)
        XCTAssertEqual(TunnelEnvelope.parseTime("2024-02-29T23:59:59.5Z")?.timeIntervalSince1970, 1_709_251_199.5)
        XCTAssertEqual(TunnelEnvelope.parseTime("2000-03-01t00:00:00z")?.timeIntervalSince1970, 951_868_800)
    }

    func testMalformedOrImpossibleTimesAreRejected() {
        for bad in ["", "2026-11-25", "2026-11-25T10:00:00", "2026-11-25 10:00:00Z", "2026-13-01T00:00:00Z",
                    "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T10:00:00.Z",
                    "2026-11-25T10:00:00+0100", "2026-11-25T10:00:00Zjunk", "２０２６-11-25T10:00:00Z"] {
            XCTAssertNil(TunnelEnvelope.parseTime(bad), bad)
        }
    }

    /// Found by fuzzing (Tests/Fuzz/regressions/envelope): a fractional second was kept when
    /// read but not written, so an envelope read, written and read again was another one.
    func testAnEnvelopeWithFractionalSecondsReadsTheSameAfterBeingWrittenAgain() throws {
        let json = #"{"version": 1, "id": "seed-000001", "created": "2026-11-25T10:00:00.0888888888887777777777888888800Z", "sender": "alice@corp.example", "recipients": ["bob@ext.example"], "read_receipt": true, "delivery": "webmail", "expires": "2027-01-01T00:00:00.999+01:00"}"#
        let parsed = try TunnelEnvelope.parse(Array(json.utf8))
        XCTAssertEqual(parsed.created.timeIntervalSince1970, 1_795_600_800)
        XCTAssertEqual(try TunnelEnvelope.parse(parsed.json()), parsed)
    }

    func testFormattedTimesParseBack() {
        let d = Date(timeIntervalSince1970: 1_800_000_123)
        XCTAssertEqual(TunnelEnvelope.parseTime(TunnelEnvelope.formatTime(d)), d)
    }
}
