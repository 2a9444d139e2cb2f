// Reading rows back (issue 16): a row that does not hold what its table promises is an
// error naming the table and column, never a default (a date that reads as 1 January 0001,
// an empty recipient list, an unknown reason code read as another) that would hide a
// damaged state store and act on it.
import Foundation
import GRDB
import Tunnel

/// A damaged row: the state store's file was changed by something other than spoolrun.
struct CorruptRow: Error, CustomStringConvertible {
    let table: String
    let column: String
    let detail: String
    var description: String { "damaged row in table \(table), column \(column): \(detail)" }
}

extension Row {
    /// The column's value; NULL or another type is a CorruptRow.
    func value<T: DatabaseValueConvertible>(_ column: String, in table: String) throws -> T {
        do { return try decode(T.self, forColumn: column) } catch {
            throw CorruptRow(table: table, column: column, detail: "\(error)")
        }
    }

    /// The column's value, or nil for NULL; another type is a CorruptRow.
    func optional<T: DatabaseValueConvertible>(_ column: String, in table: String) throws -> T? {
        do { return try decode(T?.self, forColumn: column) } catch {
            throw CorruptRow(table: table, column: column, detail: "\(error)")
        }
    }

    func bytes(_ column: String, in table: String) throws -> [UInt8] {
        [UInt8](try value(column, in: table) as Data)
    }

    /// A date written by UTCTime.database: parsed by hand, as GRDB's own decoding builds an
    /// ICU calendar.
    func date(_ column: String, in table: String) throws -> Date {
        guard let date = try optionalDate(column, in: table) else {
            throw CorruptRow(table: table, column: column, detail: "NULL where a date must be")
        }
        return date
    }

    func optionalDate(_ column: String, in table: String) throws -> Date? {
        guard let text: String = try optional(column, in: table) else { return nil }
        guard let date = UTCTime.parseDatabase(text) else {
            throw CorruptRow(table: table, column: column, detail: "\"\(text.prefix(40))\" is not a date")
        }
        return date
    }

    /// A JSON array of strings (StateStore.encodeList).
    func stringList(_ column: String, in table: String) throws -> [String] {
        let text: String = try value(column, in: table)
        guard let list = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String] else {
            throw CorruptRow(table: table, column: column, detail: "\"\(text.prefix(40))\" is not a list of strings")
        }
        return list
    }

    /// One of a closed set of codes.
    func code<E: RawRepresentable>(_ type: E.Type, _ column: String, in table: String) throws -> E where E.RawValue == String {
        let text: String = try value(column, in: table)
        guard let code = E(rawValue: text) else {
            throw CorruptRow(table: table, column: column, detail: "\"\(text.prefix(40))\" is not a known \(E.self)")
        }
        return code
    }
}
