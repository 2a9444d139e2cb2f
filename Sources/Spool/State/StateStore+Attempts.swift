// What the store keeps about tunnel files that met an error which may pass (issue 15): how
// many sweeps tried each, and why the last one failed; and what spool/failed's retention
// removed (FailedRetention).
import Foundation
import GRDB
import Tunnel

/// A tunnel file that is being tried again.
public struct AttemptRecord: Sendable, Equatable {
    public var spoolName: String
    public var digest: String
    public var count: Int
    public var firstAt: Date
    public var lastAt: Date
    public var lastError: String
}

extension StateStore {
    /// The attempts recorded for these spool names, keyed by `StateStore.key(name, digest)`.
    func attempts(spoolNames: [String]) throws -> [String: AttemptRecord] {
        guard !spoolNames.isEmpty else { return [:] }
        return try wrap {
            try pool.read { db in
                var found: [String: AttemptRecord] = [:]
                for row in try Self.rows(db, in: spoolNames, { "SELECT * FROM attempts WHERE spool_name IN (\($0))" }) {
                    let a = try Self.attempt(row)
                    found[Self.key(a.spoolName, a.digest)] = a
                }
                return found
            }
        }
    }

    /// Every file being tried again, the oldest first (`spoolrun status`).
    public func allAttempts() throws -> [AttemptRecord] {
        try wrap {
            try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM attempts ORDER BY first_at, spool_name").map(Self.attempt) }
        }
    }

    /// Stores the batch's attempts and forgets those of files that are done (accepted or
    /// quarantined), in one transaction.
    func recordAttempts(_ attempts: [AttemptRecord], done: [(spoolName: String, digest: String)]) throws {
        guard !attempts.isEmpty || !done.isEmpty else { return }
        try wrap {
            try pool.write { db in
                for a in attempts {
                    try db.execute(sql: """
                        INSERT OR REPLACE INTO attempts (spool_name, digest, count, first_at, last_at, last_error)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """, arguments: [a.spoolName, a.digest, a.count, UTCTime.database(a.firstAt), UTCTime.database(a.lastAt), a.lastError])
                }
                for d in done {
                    try db.execute(sql: "DELETE FROM attempts WHERE spool_name = ? AND digest = ?", arguments: [d.spoolName, d.digest])
                }
            }
        }
    }

    /// spool/failed's retention: removes the rejection rows of the spool names whose files it
    /// removed and every rejection row older than `keptSince`, and attempts not tried since
    /// then (their file is gone); each removed row is counted under its code, so the
    /// quarantine totals stay as they were. Returns how many rows went.
    @discardableResult
    func removeRejections(spoolNames: [String], keptSince: Date, filesRemoved: Int) throws -> Int {
        try wrap {
            try pool.write { db in
                var removed: [RejectionRecord] = []
                for name in spoolNames {
                    removed += try Row.fetchAll(db, sql: "SELECT * FROM rejections WHERE spool_name = ?", arguments: [name]).map(Self.rejection)
                    try db.execute(sql: "DELETE FROM rejections WHERE spool_name = ?", arguments: [name])
                }
                let cutoff = UTCTime.database(keptSince)
                removed += try Row.fetchAll(db, sql: "SELECT * FROM rejections WHERE rejected_at < ?", arguments: [cutoff]).map(Self.rejection)
                try db.execute(sql: "DELETE FROM rejections WHERE rejected_at < ?", arguments: [cutoff])
                try db.execute(sql: "DELETE FROM attempts WHERE last_at < ?", arguments: [cutoff])
                for (code, n) in Dictionary(grouping: removed, by: \.code.rawValue).mapValues(\.count) {
                    try db.execute(sql: """
                        INSERT INTO failed_removed (code, removed) VALUES (?, ?) ON CONFLICT (code) DO UPDATE SET removed = removed + excluded.removed
                        """, arguments: [code, n])
                }
                if filesRemoved > 0 {
                    try db.execute(sql: """
                        INSERT INTO counters (name, value) VALUES ('failed_files_removed', ?)
                        ON CONFLICT (name) DO UPDATE SET value = value + excluded.value
                        """, arguments: [filesRemoved])
                }
                return removed.count
            }
        }
    }

    /// Rejection rows still kept (not yet removed by retention), for tests and `status`.
    public func rejectionCount() throws -> Int {
        try wrap { try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rejections") ?? 0 } }
    }

    private static func attempt(_ row: Row) throws -> AttemptRecord {
        let t = "attempts"
        return AttemptRecord(spoolName: try row.value("spool_name", in: t), digest: try row.value("digest", in: t),
                             count: try row.value("count", in: t), firstAt: try row.date("first_at", in: t),
                             lastAt: try row.date("last_at", in: t), lastError: try row.value("last_error", in: t))
    }
}
