// Dates written as text, in UTC, by hand. Foundation's DateFormatter and ISO8601DateFormatter
// (and GRDB's binding of a Date, which uses a DateFormatter) load ICU: about 6 MB of the
// sweep's memory and a formatter per call (DESIGN §10). These are the only formats spoolrun
// writes; parsing RFC 3339 is in TunnelEnvelope.parseTime.
import Foundation

package enum UTCTime {
    package struct Fields {
        var year, month, day, hour, minute, second, millisecond, weekday: Int
    }

    /// The calendar fields of `date` in UTC (proleptic Gregorian), rounded to the nearest
    /// millisecond first, as Foundation's formatters do.
    package static func fields(_ date: Date) -> Fields {
        let total = Int((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = total >= 0 ? total / 1000 : (total - 999) / 1000
        let millisecond = total - seconds * 1000
        var days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let weekday = ((days % 7) + 7 + 4) % 7  // 1970-01-01 was a Thursday (0 = Sunday)
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return Fields(year: year, month: month, day: day, hour: secondOfDay / 3600, minute: secondOfDay % 3600 / 60,
                      second: secondOfDay % 60, millisecond: millisecond, weekday: weekday)
    }

    private static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// RFC 3339 in UTC to the second: "2026-11-25T10:00:00Z".
    package static func rfc3339(_ date: Date) -> String {
        let f = fields(date)
        return "\(pad(f.year, 4))-\(pad(f.month, 2))-\(pad(f.day, 2))T\(pad(f.hour, 2)):\(pad(f.minute, 2)):\(pad(f.second, 2))Z"
    }

    /// The state store's form, as GRDB writes a Date: "2026-11-25 10:00:00.000" (UTC), so
    /// that rows written either way compare and read back alike.
    package static func database(_ date: Date) -> String {
        let f = fields(date)
        return "\(pad(f.year, 4))-\(pad(f.month, 2))-\(pad(f.day, 2)) \(pad(f.hour, 2)):\(pad(f.minute, 2)):\(pad(f.second, 2)).\(pad(f.millisecond, 3))"
    }

    package static func database(_ date: Date?) -> String? { date.map(database) }

    /// "YYYY-MM-DD HH:MM:SS.SSS" (the form `database` writes; a "T" for the space, and no or
    /// any number of fraction digits, are taken too), in UTC. Nil for anything else.
    package static func parseDatabase(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count >= 19, b[10] == UInt8(ascii: " ") || b[10] == UInt8(ascii: "T") else { return nil }
        var iso = Array("0000-00-00T00:00:00".utf8)
        for i in 0..<19 where i != 10 { iso[i] = b[i] }
        let rest = b[19...]
        guard rest.isEmpty || (rest.first == UInt8(ascii: ".") && rest.count > 1
                               && rest.dropFirst().allSatisfy { $0 >= 48 && $0 <= 57 }) else { return nil }
        return TunnelEnvelope.parseTime(String(decoding: iso + Array(rest) + [UInt8(ascii: "Z")], as: UTF8.self))
    }

    package static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                             "October", "November", "December"]
    package static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

    /// For people, in the mail texts: "25 November 2026 at 10:00 UTC".
    package static func human(_ date: Date) -> String {
        let f = fields(date)
        return "\(f.day) \(monthNames[f.month - 1]) \(f.year) at \(pad(f.hour, 2)):\(pad(f.minute, 2)) UTC"
    }

    /// RFC 5322 §3.3 in UTC: "Wed, 25 Nov 2026 10:00:00 +0000".
    package static func rfc5322(_ date: Date) -> String {
        let f = fields(date)
        return "\(weekdayNames[f.weekday]), \(pad(f.day, 2)) \(monthNames[f.month - 1].prefix(3)) \(pad(f.year, 4)) "
            + "\(pad(f.hour, 2)):\(pad(f.minute, 2)):\(pad(f.second, 2)) +0000"
    }
}
