// Generated passwords (first-contact ones, and OTP ones through Render's OneTimePassword) are
// strong, unambiguous and never repeat, in the groups each caller asks for.
import Crypto
import XCTest

final class PasswordGeneratorTests: XCTestCase {
    func testPasswordsHaveAtLeast100BitsFromAnUnambiguousAlphabet() {
        XCTAssertEqual(PasswordGenerator.alphabet.count, 32)
        XCTAssertEqual(Set(PasswordGenerator.alphabet).count, 32)
        XCTAssertGreaterThanOrEqual(PasswordGenerator.strength(), 100)
        let p = PasswordGenerator.generate()
        XCTAssertEqual(p.count, 23)
        XCTAssertEqual(p.split(separator: "-").map(\.count), [5, 5, 5, 5])
        for ambiguous in ["0", "1", "l", "o", "O", "I"] { XCTAssertFalse(p.contains(ambiguous), p) }
    }

    func testPasswordsDoNotRepeatAndUseTheWholeAlphabet() {
        var seen = Set<String>()
        var symbols = Set<Character>()
        for _ in 0..<2000 {
            let p = PasswordGenerator.generate()
            XCTAssertTrue(seen.insert(p).inserted)
            symbols.formUnion(p.filter { $0 != "-" })
        }
        XCTAssertEqual(symbols.count, 32, "every symbol appears, so none is stuck or biased away")
    }

    func testGroupsAndCaseAreAsAskedAndEachDrawGivesTwelveSymbolsLowBitsFirst() {
        struct Counting: RandomNumberGenerator {
            var draws = 0
            // Symbol indices 0, 1, 2, ... 11 in the low 60 bits, low bits first.
            mutating func next() -> UInt64 {
                draws += 1
                return (0..<12).reduce(UInt64(0)) { $0 | UInt64($1) << (5 * UInt64($1)) }
            }
        }
        var random = Counting()
        XCTAssertEqual(PasswordGenerator.generate(groups: [4, 4, 4, 4], using: &random), "abcd-efgh-ijkm-abcd")
        XCTAssertEqual(random.draws, 2)
        random = Counting()
        XCTAssertEqual(PasswordGenerator.generate(groups: [4, 2], uppercase: true, using: &random), "ABCD-EF")
        XCTAssertEqual(random.draws, 1)
        var system = SystemRandomNumberGenerator()
        let p = PasswordGenerator.generate(groups: [5, 5, 5, 5], using: &system)
        XCTAssertEqual(p.split(separator: "-").map(\.count), [5, 5, 5, 5])
    }
}
