// The hand-written UTC formats must be exactly what Foundation's formatters (and GRDB, for the
// state store) write, for every date the sweep can meet.
import Foundation
@testable import Spool
import TestSupport
import XCTest
@testable import Tunnel

final class UTCTimeTests: XCTestCase {
    static func formatter(_ format: String) -> DateFormatter {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = format
        return f
    }

    /// Dates over 1900-2200: leap days, ends of months and years, 1970, and random instants
    /// with fractions of a second.
    static func dates() -> [Date] {
        var rng = SeededGenerator(seed: 1970)
        var out: [TimeInterval] = [0, -1, 0.999, 86_399.9995, 951_782_400, 951_868_799.5, 1_709_164_800, 4_107_542_399,
                                   -2_208_988_800, 7_258_118_399.25, 1_798_200_000.123]
        for _ in 0..<20_000 {
            out.append(Double(Int64(rng.next() % 9_467_280_000) - 2_208_988_800) + Double(rng.next() % 1000) / 1000 + 0.0004)
        }
        return out.map(Date.init(timeIntervalSince1970:))
    }

    func testHandWrittenUTCFormatsMatchFoundationsFormattersOnEveryDate() {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime]
        let database = Self.formatter("yyyy-MM-dd HH:mm:ss.SSS")
        let human = Self.formatter("d MMMM yyyy 'at' HH:mm 'UTC'")
        let mail = Self.formatter("EEE, dd MMM yyyy HH:mm:ss '+0000'")
        var mismatches: [String] = []
        for date in Self.dates() {
            let pairs = [(UTCTime.rfc3339(date), iso.string(from: date)), (UTCTime.database(date), database.string(from: date)),
                         (UTCTime.human(date), human.string(from: date)), (UTCTime.rfc5322(date), mail.string(from: date))]
            for (ours, foundation) in pairs where ours != foundation {
                mismatches.append("\(date.timeIntervalSince1970): \(ours) != \(foundation)")
            }
        }
        XCTAssertEqual(mismatches.prefix(10), [], "\(mismatches.count) mismatches")
    }

    func testTheStateStoresDatesReadBackToTheMillisecondTheyWereWrittenWith() {
        for date in Self.dates() {
            let text = UTCTime.database(date)
            guard let back = UTCTime.parseDatabase(text) else { return XCTFail("\(text) does not parse") }
            XCTAssertEqual(UTCTime.database(back), text)
            XCTAssertEqual(back.timeIntervalSince1970, date.timeIntervalSince1970, accuracy: 0.0006)
        }
        XCTAssertEqual(UTCTime.parseDatabase("2026-11-25T10:00:00")?.timeIntervalSince1970, 1_795_600_800)
        for bad in ["", "2026-11-25", "2026-11-25 10:00:00.", "2026-11-25 10:00:00.12x", "2026-02-30 10:00:00.000", "2026/11/25 10:00:00"] {
            XCTAssertNil(UTCTime.parseDatabase(bad), bad)
        }
    }
}
