// Names under spool/failed, spool/held and spool/archive stay within NAME_MAX (255 bytes)
// whatever the spool name's length (issue 15): a name too long for what goes after it is
// shortened to a prefix and a digest of the whole name, unique and valid UTF-8.
import Foundation
@testable import Spool
import XCTest

final class QuarantineNameTests: XCTestCase {
    func testANameThatFitsWithItsSuffixIsKeptAsItIs() {
        let name = "1700000000.M1P2.portal." + String(repeating: "a", count: 200)
        XCTAssertEqual(SpoolDirectory.boundedName(name, reserve: 7), name)
        XCTAssertEqual(SpoolDirectory.boundedName(String(repeating: "b", count: 248), reserve: 7).utf8.count, 248)
    }

    func testALongerNameIsShortenedWithinNameMaxUniquelyAndWithoutCuttingACharacterInHalf() {
        let a = String(repeating: "x", count: 249), b = String(repeating: "x", count: 248) + "y"
        let shortA = SpoolDirectory.boundedName(a, reserve: 7), shortB = SpoolDirectory.boundedName(b, reserve: 7)
        XCTAssertNotEqual(shortA, shortB, "names that differ only at the end stay apart")
        for short in [shortA, shortB] {
            XCTAssertLessThanOrEqual(short.utf8.count + 7 + 17, SpoolDirectory.nameMax, short)
            XCTAssertTrue(short.hasPrefix(String(repeating: "x", count: 160) + "~"), short)
        }
        XCTAssertEqual(SpoolDirectory.boundedName(a, reserve: 7), shortA, "the same name always gives the same short name")
        // 84 three-byte characters (252 bytes): the prefix ends on a character boundary.
        let wide = String(repeating: "€", count: 84)
        let short = SpoolDirectory.boundedName(wide, reserve: 7)
        XCTAssertTrue(short.hasPrefix(String(repeating: "€", count: 53) + "~"), "53 whole characters (159 bytes), not 160 bytes: \(short)")
    }
}
