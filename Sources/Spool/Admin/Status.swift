// `spoolrun status`: what the portal holds and how the last sweep went.
import Foundation
import Tunnel

public struct StatusReport: Sendable, Codable, Equatable {
    public struct LastSweep: Sendable, Codable, Equatable {
        public var startedAt: String
        public var durationMS: Int
        public var result: String
        public var accepted: Int
        public var rejected: Int
        public var error: String?
    }

    public var accepted: Int
    public var failed: [String: Int]
    public var failedTotal: Int
    public var waiting: Int
    public var lastSweep: LastSweep?
    public var outbox: OutboxStatus
    /// The figures of the metrics file (Metrics.swift), taken when `status` runs.
    /// Tunnel files in spool/held (over quota).
    public var held: Int = 0
    public var mailboxes: Int = 0
    /// The size of the messages in all mailboxes (original message size per recipient).
    public var mailboxBytes: Int = 0
    /// Deliveries removed by expiry, ever.
    public var expired: Int = 0
    /// Tunnel files in spool/new being tried again after an error that may pass, with why.
    public var retrying: [Retrying] = []
    /// Quarantined files removed from spool/failed by its retention, ever.
    public var failedRemoved: Int = 0

    public struct Retrying: Sendable, Codable, Equatable {
        public var file: String
        public var attempts: Int
        public var lastError: String
    }
    /// When the last successful sweep finished, in unix seconds (to the millisecond); nil if none has.
    public var lastSuccessfulSweepTimestamp: Double?

    public struct OutboxStatus: Sendable, Codable, Equatable {
        public var queued: Int
        public var sent: Int
        /// Given up on after mail.give_up_after: kept until an administrator retries them.
        public var failed: Int
        public var oldestQueued: String?
        /// Seconds since the oldest queued mail was queued; 0 when none is.
        public var oldestQueuedAgeSeconds: Double = 0
    }

    public static func gather(config: SpoolrunConfig, now: Date = Date()) throws -> StatusReport {
        let store = try StateStore(directory: config.state)
        var report = StatusReport(try MetricsSnapshot.gather(config: config, store: store, now: now))
        report.retrying = try store.allAttempts().map { Retrying(file: $0.spoolName, attempts: $0.count, lastError: $0.lastError) }
        return report
    }

    /// The same snapshot the metrics file is made of, in status's terms.
    public init(_ m: MetricsSnapshot) {
        let c = m.store
        accepted = c.accepted
        failed = c.rejectedByCode
        failedTotal = c.rejectedByCode.values.reduce(0, +)
        waiting = m.waiting
        lastSweep = c.lastSweep.map {
            LastSweep(startedAt: TunnelEnvelope.formatTime($0.startedAt), durationMS: $0.durationMS,
                      result: $0.result, accepted: $0.accepted, rejected: $0.rejected, error: $0.error)
        }
        outbox = OutboxStatus(queued: c.outbox.queued, sent: c.outbox.sent, failed: c.outbox.failed,
                              oldestQueued: c.outbox.oldestQueued.map(TunnelEnvelope.formatTime),
                              oldestQueuedAgeSeconds: m.oldestQueuedAgeSeconds)
        held = m.held
        mailboxes = c.mailboxes
        mailboxBytes = c.mailboxBytes
        expired = c.expired
        failedRemoved = c.failedRemoved
        lastSuccessfulSweepTimestamp = m.lastSuccessfulSweepTimestamp
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    public func text() -> String {
        var lines = ["accepted: \(accepted)", "failed: \(failedTotal)"]
        for code in failed.keys.sorted() { lines.append("  \(code): \(failed[code]!)") }
        lines.append("waiting in spool/new: \(waiting)")
        lines.append("held in spool/held: \(held)")
        lines.append("being tried again in spool/new: \(retrying.count)")
        for r in retrying { lines.append("  \(r.file): \(r.attempts) attempts, last: \(r.lastError)") }
        if failedRemoved > 0 { lines.append("removed from spool/failed by retention so far: \(failedRemoved)") }
        lines.append("mailboxes: \(mailboxes), \(mailboxBytes) bytes; expired so far: \(expired)")
        if let s = lastSweep {
            lines.append("last sweep: \(s.startedAt), \(s.result), \(s.durationMS) ms, \(s.accepted) accepted, \(s.rejected) rejected"
                         + (s.error.map { " (\($0))" } ?? ""))
        } else {
            lines.append("last sweep: never")
        }
        if let t = lastSuccessfulSweepTimestamp, lastSweep?.result != "ok" {
            lines.append("last successful sweep: \(TunnelEnvelope.formatTime(Date(timeIntervalSince1970: t)))")
        }
        lines.append("outbox: \(outbox.queued) queued, \(outbox.sent) sent, \(outbox.failed) failed"
                     + (outbox.oldestQueued.map { " (oldest queued \($0))" } ?? ""))
        if outbox.failed > 0 { lines.append("  failed mail is kept: see `spoolrun outbox list`, then `spoolrun outbox retry ID`") }
        return lines.joined(separator: "\n")
    }
}
