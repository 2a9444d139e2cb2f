// Strict reading of a TOML file: every key must be known, every value of the right type,
// and every error names the file and the dotted key (DESIGN §3).
import Foundation
import TOMLKit

public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let key: String?
    public let problem: String

    public var description: String {
        if let key { return "\(file): \(key): \(problem)" }
        return "\(file): \(problem)"
    }
}

/// Walks one TOML table, remembering which keys were read so that leftovers can be
/// reported as unknown.
final class ConfigReader {
    let file: String
    let directory: String
    private let table: TOMLTable
    private let prefix: String
    private var seen: Set<String> = []

    init(file: String, table: TOMLTable, prefix: String = "") {
        self.file = file
        self.directory = (file as NSString).deletingLastPathComponent
        self.table = table
        self.prefix = prefix
    }

    static func load(path: String) throws -> ConfigReader {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, key: nil, problem: "cannot be read (does it exist?)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, key: nil, problem: "is not UTF-8 text")
        }
        do {
            return ConfigReader(file: path, table: try TOMLTable(string: text))
        } catch let error as TOMLParseError {
            throw ConfigError(file: path, key: nil,
                              problem: "line \(error.source.begin.line): \(error.description)")
        }
    }

    func error(_ key: String, _ problem: String) -> ConfigError {
        ConfigError(file: file, key: prefix + key, problem: problem)
    }

    func section(_ name: String) throws -> ConfigReader? {
        seen.insert(name)
        guard let value = table[name] else { return nil }
        guard let sub = value.table else { throw error(name, "must be a table ([\(prefix + name)])") }
        return ConfigReader(file: file, table: sub, prefix: prefix + name + ".")
    }

    func string(_ key: String) throws -> String? {
        seen.insert(key)
        guard let value = table[key] else { return nil }
        guard let s = value.string else { throw error(key, "must be a string") }
        return s
    }

    func requiredString(_ key: String) throws -> String {
        guard let s = try string(key), !s.isEmpty else { throw error(key, "is required") }
        return s
    }

    func int(_ key: String, range: ClosedRange<Int>) throws -> Int? {
        seen.insert(key)
        guard let value = table[key] else { return nil }
        guard let i = value.int else { throw error(key, "must be a whole number") }
        guard range.contains(i) else {
            throw error(key, "must be between \(range.lowerBound) and \(range.upperBound), not \(i)")
        }
        return i
    }

    func bool(_ key: String) throws -> Bool? {
        seen.insert(key)
        guard let value = table[key] else { return nil }
        guard let b = value.bool else { throw error(key, "must be true or false") }
        return b
    }

    /// A value that is either true/false or one of `words` (e.g. read_receipt = "when-asked").
    func boolOrWord(_ key: String, words: [String]) throws -> String? {
        seen.insert(key)
        guard let value = table[key] else { return nil }
        if let b = value.bool { return b ? "true" : "false" }
        guard let s = value.string, words.contains(s) else {
            throw error(key, "must be true, false" + words.map { " or \"\($0)\"" }.joined())
        }
        return s
    }

    func stringArray(_ key: String) throws -> [String]? {
        seen.insert(key)
        guard let value = table[key] else { return nil }
        guard let array = value.array else { throw error(key, "must be an array of strings") }
        return try array.map {
            guard let s = $0.string else { throw error(key, "must be an array of strings") }
            return s
        }
    }

    /// An array of tables (`[[name]]` or `name = [{...}]`), each read strictly by `body`.
    func tableArray<T>(_ key: String, _ body: (ConfigReader) throws -> T) throws -> [T]? {
        seen.insert(key)
        guard let value = table[key] else { return nil }
        guard let array = value.array else { throw error(key, "must be an array of tables") }
        return try array.enumerated().map { index, element in
            guard let t = element.table else { throw error(key, "must be an array of tables") }
            let reader = ConfigReader(file: file, table: t, prefix: "\(prefix)\(key)[\(index)].")
            let result = try body(reader)
            try reader.finish()
            return result
        }
    }

    /// A path: relative ones are taken from the config file's folder.
    /// A duration: a whole number of seconds, or a string like "90s", "30m", "36h", "5d".
    func duration(_ key: String, range: ClosedRange<Int>) throws -> Int? {
        seen.insert(key)
        guard let value = table[key] else { return nil }
        let seconds: Int?
        if let n = value.int {
            seconds = n
        } else if let text = value.string, let unit = text.last, let n = Int(text.dropLast()), n >= 0 {
            let factor = ["s": 1, "m": 60, "h": 3600, "d": 86400][String(unit)]
            seconds = factor.map { n * $0 }
        } else {
            seconds = nil
        }
        guard let seconds, range.contains(seconds) else {
            throw error(key, "must be a duration such as \"90s\", \"30m\", \"36h\" or \"5d\", between \(range.lowerBound) s and \(range.upperBound) s")
        }
        return seconds
    }

    func path(_ key: String) throws -> String? {
        guard let p = try string(key) else { return nil }
        guard !p.isEmpty else { throw error(key, "must not be empty") }
        return resolve(p)
    }

    func resolve(_ p: String) -> String {
        p.hasPrefix("/") ? p : (directory as NSString).appendingPathComponent(p)
    }

    /// Fails on the first key that nobody asked for.
    func finish() throws {
        for key in table.keys.sorted() where !seen.contains(key) {
            throw error(key, "is not a known setting")
        }
    }
}
