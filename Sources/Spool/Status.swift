// `spoolrun status`: what the portal holds and how the last sweep went.
import Foundation

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

    public struct OutboxStatus: Sendable, Codable, Equatable {
        public var queued: Int
        public var sent: Int
        /// Given up on after mail.give_up_after: kept until an administrator retries them.
        public var failed: Int
        public var oldestQueued: String?
    }

    public static func gather(config: SpoolrunConfig) throws -> StatusReport {
        let store = try StateStore(directory: config.state)
        let counts = try store.counts()
        let waiting = SpoolDirectory(root: config.spool).waitingCount()
        let mail = try store.outboxCounts()
        return StatusReport(
            accepted: counts.accepted, failed: counts.rejectedByCode,
            failedTotal: counts.rejectedByCode.values.reduce(0, +), waiting: waiting,
            lastSweep: counts.lastSweep.map {
                LastSweep(startedAt: TunnelEnvelope.formatTime($0.startedAt), durationMS: $0.durationMS,
                          result: $0.result, accepted: $0.accepted, rejected: $0.rejected, error: $0.error)
            },
            outbox: OutboxStatus(queued: mail.queued, sent: mail.sent, failed: mail.failed,
                                 oldestQueued: mail.oldestQueued.map(TunnelEnvelope.formatTime)))
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
        if let s = lastSweep {
            lines.append("last sweep: \(s.startedAt), \(s.result), \(s.durationMS) ms, \(s.accepted) accepted, \(s.rejected) rejected"
                         + (s.error.map { " (\($0))" } ?? ""))
        } else {
            lines.append("last sweep: never")
        }
        lines.append("outbox: \(outbox.queued) queued, \(outbox.sent) sent, \(outbox.failed) failed"
                     + (outbox.oldestQueued.map { " (oldest queued \($0))" } ?? ""))
        if outbox.failed > 0 { lines.append("  failed mail is kept: see `spoolrun outbox list`, then `spoolrun outbox retry ID`") }
        return lines.joined(separator: "\n")
    }
}
