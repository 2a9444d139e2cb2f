// Generated first-contact passwords are strong, unambiguous and never repeat.
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
}
