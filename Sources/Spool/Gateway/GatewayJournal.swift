// What the gateway filter has already handed to sendmail (issue 7). The filter sends one
// message in up to three parts (the tunnel message, the passed-through copy, the copy marked
// for the gateway's PDF encryption). When one part fails, the filter exits 75 and Postfix
// retries the whole message later: the parts sent before must not go out twice. Each part
// sent is remembered here under a digest of what defines it (the original's bytes, the
// envelope sender, its recipients and its route), so the retry sends only what is missing.
// The journal holds digests and nothing else: no address, no subject, no content.
import Crypto
import Foundation
import Tunnel

public struct GatewayJournal: Sendable {
    public let directory: String
    /// Postfix keeps a deferred message for 5 days by default (maximal_queue_lifetime); a
    /// retry after the entry went would send the part again.
    public static let keepFor: TimeInterval = 14 * 24 * 3600

    public init(directory: String) throws {
        self.directory = directory
        try FileSystem.makeDirectory(directory, mode: 0o700)
    }

    /// The name of one part: SHA-256 over its route, sender, sorted recipients and the
    /// original message, each length-prefixed so that no two inputs run together.
    public static func key(route: String, sender: String, recipients: [String], original: [UInt8]) -> String {
        key(route: route, sender: sender, recipients: recipients, original: Original(original))
    }

    /// What a key needs of the original: worked out once per message, not once per part.
    public struct Original: Sendable {
        let count: Int
        let digest: [UInt8]
        public init(_ bytes: [UInt8]) { (count, digest) = (bytes.count, SHA256.hash(bytes)) }
    }

    public static func key(route: String, sender: String, recipients: [String], original: Original) -> String {
        var input: [UInt8] = []
        for field in [route, sender] + recipients.sorted() {
            input += Array("\(field.utf8.count):".utf8) + Array(field.utf8)
        }
        input += Array("\(original.count):".utf8)
        return SHA256.hex(SHA256.hash(input) + original.digest)
    }

    public func contains(_ key: String) -> Bool { FileSystem.exists(path(key)) }

    /// Durable before it returns: a crash right after still counts the part as sent.
    public func record(_ key: String, now: Date = Date()) throws {
        try FileSystem.writeAtomically(UTCTime.rfc3339(now) + "\n", to: path(key), mode: 0o600)
    }

    /// Forgets entries older than `keepFor`, at most `limit` a run (the filter runs per message).
    public func prune(now: Date = Date(), limit: Int = 200) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        var removed = 0
        for name in names where name.count == 64 && name.allSatisfy(\.isHexDigit) {
            guard removed < limit else { break }
            let file = path(name)
            guard let modified = (try? FileManager.default.attributesOfItem(atPath: file))?[.modificationDate] as? Date,
                  now.timeIntervalSince(modified) > Self.keepFor else { continue }
            if unlink(file) == 0 { removed += 1 }
        }
    }

    private func path(_ key: String) -> String { (directory as NSString).appendingPathComponent(key) }
}
