// `spoolrun recipient list [--json]` (issue 6): each recipient's address, creation date, last
// read, message count and bytes. "Last read" is the last time nginx served that mailbox's
// index (every sign-in loads it), from the access log the generated nginx.conf writes
// (logs/access.log): the state store never learns who reads what.
import Foundation
import Tunnel

public struct RecipientSummary: Sendable, Equatable, Codable {
    public var address: String
    public var created: String
    public var lastRead: String?
    public var messages: Int
    public var bytes: Int
}

public struct RecipientAdmin {
    let config: SpoolrunConfig

    public init(config: SpoolrunConfig) { self.config = config }

    public var accessLog: String { (config.logs as NSString).appendingPathComponent("access.log") }

    public func summaries() throws -> [RecipientSummary] {
        let store = try StateStore(directory: config.state)
        let reads = Self.lastReads(inAccessLog: accessLog)
        return try store.recipientFigures().map { r in
            RecipientSummary(address: r.address, created: UTCTime.rfc3339(r.created), lastRead: reads[r.mailboxID].map(UTCTime.rfc3339),
                             messages: r.messages, bytes: r.bytes)
        }
    }

    public func list(json: Bool) throws -> String {
        let rows = try summaries()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            return String(decoding: try encoder.encode(rows), as: UTF8.self)
        }
        guard !rows.isEmpty else { return "no recipients yet" }
        let width = max(7, rows.map(\.address.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        var lines = [pad("ADDRESS", width) + "  CREATED               LAST READ             MESSAGES  BYTES"]
        for r in rows {
            lines.append(pad(r.address, width) + "  " + pad(r.created, 20) + "  " + pad(r.lastRead ?? "never", 20) + "  "
                         + pad(String(r.messages), 8) + "  " + String(r.bytes))
        }
        return lines.joined(separator: "\n")
    }

    /// mailbox id -> the latest time a GET of its index.json was answered 200 or 304, from
    /// lines `ADDR [TIME] "GET /m/MAILBOX/index.json?... HTTP/1.1" STATUS BYTES`. Only the
    /// last 64 MiB of the log are read.
    static func lastReads(inAccessLog path: String) -> [String: Date] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [:] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let window: UInt64 = 64 << 20
        try? handle.seek(toOffset: size > window ? size - window : 0)
        guard let data = try? handle.readToEnd() else { return [:] }
        var latest: [String: Date] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let open = line.firstIndex(of: "["), let close = line[open...].firstIndex(of: "]"),
                  let request = line.range(of: "\"GET /m/") else { continue }
            let rest = line[request.upperBound...]
            guard let slash = rest.firstIndex(of: "/"), rest[slash...].hasPrefix("/index.json"),
                  let quote = rest.firstIndex(of: "\"") else { continue }
            let status = rest[rest.index(after: quote)...].split(separator: " ").first
            guard status == "200" || status == "304",
                  let time = TunnelEnvelope.parseTime(String(line[line.index(after: open)..<close])) else { continue }
            let mailbox = String(rest[..<slash])
            if latest[mailbox].map({ $0 < time }) ?? true { latest[mailbox] = time }
        }
        return latest
    }
}
