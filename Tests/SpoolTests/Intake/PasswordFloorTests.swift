// The floor under first-contact passwords given in an envelope (issue 15): what it refuses,
// what it lets through (every generated password among it), and that `spoolrun wrap` applies
// it before anything is signed.
import Crypto
import Foundation
@testable import Spool
import TestSupport
import XCTest
@testable import Tunnel

final class PasswordFloorTests: XCTestCase {
    let address = "bob@ext.example"

    func testAPasswordUnder12CharactersIsTooShortAndTheReasonGivesItsLengthNotItself() throws {
        let why = try XCTUnwrap(PasswordFloor.weakness(of: "Sh0rt-pw-77", for: address))
        XCTAssertEqual(why, "is too short (11 characters, at least 12)")
        XCTAssertNil(PasswordFloor.weakness(of: "Sh0rt-pw-778", for: address), "12 characters are enough")
        // Characters, not bytes: "Grüße" is 5 characters in 7 bytes.
        XCTAssertNotNil(PasswordFloor.weakness(of: "Grüße-1234", for: address))
    }

    func testEveryCommonPasswordIsRefusedWhateverItsCaseAndPunctuation() {
        for entry in CommonPasswords.list {
            XCTAssertGreaterThanOrEqual(entry.count, PasswordFloor.minimumLength, "\(entry) is refused for its length anyway")
            XCTAssertEqual(PasswordFloor.comparable(entry), entry, "\(entry) is listed in its compared form")
            XCTAssertEqual(PasswordFloor.weakness(of: entry, for: address), "is a common password", entry)
            XCTAssertEqual(PasswordFloor.weakness(of: entry.uppercased(), for: address), "is a common password", entry)
        }
        for variant in ["Password1234", "PASSWORD-1234", "password 1234", "QwertyUiopAs", "Correct Horse Battery Staple"] {
            XCTAssertEqual(PasswordFloor.weakness(of: variant, for: address), "is a common password", variant)
        }
    }

    func testAPasswordMadeFromTheAddressIsRefused() {
        for weak in ["bob@ext.example", "BOB@EXT.EXAMPLE", "bobbobbobbob", "Bob-Bob-Bob-Bob", "bob123456789", "bob-ext-example",
                     "example-2026-bob", "2026.bob.2026"] {
            XCTAssertEqual(PasswordFloor.weakness(of: weak, for: address), "is made from the address", weak)
        }
        XCTAssertNil(PasswordFloor.weakness(of: "bob-likes-kestrels-9", for: address), "other words besides the address")
        XCTAssertNil(PasswordFloor.weakness(of: "739104628351", for: address), "digits alone are not the address")
    }

    func testAPasswordOfFewerThan4DifferentCharactersIsRefused() {
        for weak in ["aaaaaaaaaaaa", "abababababab", "AbcAbcAbcabc", "111111111111"] {
            XCTAssertEqual(PasswordFloor.weakness(of: weak, for: address), "uses fewer than 4 different characters", weak)
        }
    }

    func testGeneratedPasswordsPassTheFloor() {
        for _ in 0..<500 {
            let generated = PasswordGenerator.generate()
            XCTAssertNil(PasswordFloor.weakness(of: generated, for: address), generated)
        }
    }

    func testStrongPasswordsPass() {
        for strong in ["tulip-river-48-anchor", "blue-heron-27 Grüße", "correct horse ✓ staple", "Tr0ub4dor-and-3"] {
            XCTAssertNil(PasswordFloor.weakness(of: strong, for: address), strong)
        }
    }

    func testWrapRefusesAWeakPasswordNamingTheAddressAndNotThePassword() throws {
        let dir = try TemporaryDirectory()
        let inst = try Setup.run(SetupOptions(directory: dir.file("inst")))
        let gateway = try GatewayConfig.load(path: inst.gatewayConfig)
        let original = Array("From: alice@corp.example\r\nTo: bob@ext.example\r\nSubject: s\r\n\r\nbody\r\n".utf8)
        for (weak, why) in [("Tiny-pw-77", "too short (10 characters, at least 12)"), ("Password-1234", "is a common password"),
                            ("", "is empty")] {
            var options = WrapOptions(recipients: ["Bob@Ext.Example", "carol@ext.example"])
            options.passwords = ["Bob@Ext.Example": weak, "carol@ext.example": "tulip-river-48-anchor"]
            XCTAssertThrowsError(try Wrapper.wrap(original, config: gateway, options: options), weak) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("--password for bob@ext.example") && message.contains(why), message)
                if !weak.isEmpty { XCTAssertFalse(message.contains(weak), "the error never shows the password: \(message)") }
            }
        }
        var options = WrapOptions(recipients: ["bob@ext.example"])
        options.passwords = ["bob@ext.example": "tulip-river-48-anchor"]
        XCTAssertNoThrow(try Wrapper.wrap(original, config: gateway, options: options), "a strong password is wrapped")
    }
}
