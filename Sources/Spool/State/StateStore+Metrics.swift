// Read-only queries for monitoring (Metrics.swift, `spoolrun status`): every figure comes
// from the state store's own rows, so totals survive restarts and only ever grow.
import Foundation
import GRDB
import Tunnel

extension StateStore {
    /// The store's side of a metrics snapshot, read in one transaction so the figures agree.
    public struct MetricsCounts: Sendable, Equatable {
        /// Rows of `messages`: tunnel files accepted.
        public var accepted = 0
        /// Rows of `rejections` by reason code: tunnel files quarantined.
        public var rejectedByCode: [String: Int] = [:]
        public var outbox = OutboxCounts()
        /// The latest sweep, whatever its result.
        public var lastSweep: SweepRecord?
        /// The latest sweep whose result is "ok".
        public var lastSuccessfulSweep: SweepRecord?
        /// Rows of `recipients`: one mailbox each.
        public var mailboxes = 0
        /// The sizes of the deliveries (the original message, per recipient), summed.
        public var mailboxBytes = 0
        /// Deliveries removed by expiry (retention or the envelope's `expires`).
        public var expired = 0
        /// Tunnel files in spool/new being tried again after an error that may pass.
        public var retrying = 0
        /// Quarantined files removed from spool/failed by its retention (spool.failed_days,
        /// spool.failed_max_mb).
        public var failedRemoved = 0
    }

    public func metricsCounts() throws -> MetricsCounts {
        try wrap {
            try pool.read { db in
                var c = MetricsCounts()
                c.accepted = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages") ?? 0
                for row in try Row.fetchAll(db, sql: "SELECT code, COUNT(*) AS n FROM rejections GROUP BY code") {
                    c.rejectedByCode[row["code"]] = row["n"]
                }
                // Rows that spool/failed's retention removed still count: the totals never go down.
                for row in try Row.fetchAll(db, sql: "SELECT code, removed FROM failed_removed") {
                    c.rejectedByCode[row["code"], default: 0] += row["removed"] as Int
                }
                c.retrying = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM attempts") ?? 0
                c.failedRemoved = try Int.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'failed_files_removed'") ?? 0
                for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM outbox GROUP BY state") {
                    switch OutboxEntry.State(rawValue: row["state"]) {
                    case .queued: c.outbox.queued = row["n"]
                    case .sent: c.outbox.sent = row["n"]
                    case .failed: c.outbox.failed = row["n"]
                    case nil: break
                    }
                }
                c.outbox.oldestQueued = try String.fetchOne(db, sql: "SELECT MIN(created_at) FROM outbox WHERE state = 'queued'")
                    .flatMap(UTCTime.parseDatabase)
                c.lastSweep = try Row.fetchOne(db, sql: "SELECT * FROM sweeps ORDER BY id DESC LIMIT 1").map(Self.sweep)
                c.lastSuccessfulSweep = try Row.fetchOne(db, sql: "SELECT * FROM sweeps WHERE result = 'ok' ORDER BY id DESC LIMIT 1")
                    .map(Self.sweep)
                c.mailboxes = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM recipients") ?? 0
                c.mailboxBytes = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(size), 0) FROM deliveries") ?? 0
                c.expired = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM expirations WHERE reason != 'recall'") ?? 0
                return c
            }
        }
    }

    private static func sweep(_ row: Row) throws -> SweepRecord {
        let t = "sweeps"
        return SweepRecord(startedAt: try row.date("started_at", in: t), durationMS: try row.value("duration_ms", in: t),
                           result: try row.value("result", in: t), accepted: try row.value("accepted", in: t),
                           rejected: try row.value("rejected", in: t), error: try row.optional("error", in: t))
    }

    public func recordSweep(_ s: SweepRecord) throws {
        try wrap {
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO sweeps (started_at, duration_ms, result, accepted, rejected, error)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [UTCTime.database(s.startedAt), s.durationMS, s.result, s.accepted, s.rejected, s.error])
            }
        }
    }
}
