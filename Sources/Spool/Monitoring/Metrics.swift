// Monitoring (docs/operations.md, "Monitoring"): the figures an administrator alerts on,
// gathered from the state store and the spool. Each sweep writes them in Prometheus's text
// exposition format to `metrics.textfile` for node_exporter's textfile collector, and
// `spoolrun status --json` shows the same snapshot.
//
// Totals are counted from the state store's rows (messages, rejections), never kept in
// the process, so they survive restarts and never go down.
import Foundation
import Logging
import Tunnel

public struct MetricsSnapshot: Sendable, Equatable {
    /// When the snapshot was taken: ages are measured from here.
    public var takenAt: Date
    public var store: StateStore.MetricsCounts
    /// Tunnel files in spool/held (over quota), their .reason companions not counted.
    public var held: Int
    /// Tunnel files waiting in spool/new.
    public var waiting: Int

    public static func gather(config: SpoolrunConfig, store: StateStore, now: Date) throws -> MetricsSnapshot {
        MetricsSnapshot(takenAt: now, store: try store.metricsCounts(),
                        held: try heldCount(spool: config.spool),
                        waiting: SpoolDirectory(root: config.spool).waitingCount())
    }

    /// Quarantined files by reason code: every code of ReasonCode (0 when none), and any
    /// other code the store holds.
    public var failedByReason: [String: Int] {
        var byCode = store.rejectedByCode
        for code in ReasonCode.allCases where byCode[code.rawValue] == nil { byCode[code.rawValue] = 0 }
        return byCode
    }

    /// Seconds since the oldest queued mail was queued; 0 when nothing is queued.
    public var oldestQueuedAgeSeconds: Double {
        guard let oldest = store.outbox.oldestQueued else { return 0 }
        return Self.milliseconds(max(0, takenAt.timeIntervalSince(oldest)))
    }

    /// When the last successful sweep finished (unix seconds, to the millisecond); nil if none has.
    public var lastSuccessfulSweepTimestamp: Double? {
        store.lastSuccessfulSweep.map { Self.unixSeconds($0.startedAt.addingTimeInterval(Double($0.durationMS) / 1000)) }
    }

    public var lastSweepDurationSeconds: Double {
        Double(store.lastSweep?.durationMS ?? 0) / 1000
    }

    static func unixSeconds(_ date: Date) -> Double { milliseconds(date.timeIntervalSince1970) }
    private static func milliseconds(_ seconds: Double) -> Double { (seconds * 1000).rounded() / 1000 }

    /// Counts spool/held's tunnel files: regular files, no dot-files (temporary names), and
    /// no NAME.reason beside a NAME. A missing spool/held holds nothing.
    static func heldCount(spool: String) throws -> Int {
        let held = (spool as NSString).appendingPathComponent("held")
        guard let dir = opendir(held) else {
            if errno == ENOENT { return 0 }
            throw FileSystemError(path: held, operation: "open directory", errno: errno)
        }
        defer { closedir(dir) }
        var names: Set<String> = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix(".") { continue }
            var st = stat()
            guard lstat((held as NSString).appendingPathComponent(name), &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            names.insert(name)
        }
        return names.filter { !($0.hasSuffix(".reason") && names.contains(String($0.dropLast(".reason".count)))) }.count
    }

    // MARK: - Prometheus text format

    /// The snapshot in Prometheus's text exposition format (version 0.0.4).
    public func prometheusText() -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for s in samples {
                let labels = s.labels.isEmpty ? ""
                    : "{" + s.labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                out += "\(name)\(labels) \(s.value)\n"
            }
        }
        func one(_ name: String, _ type: String, _ help: String, _ value: String) { family(name, type, help, [([], value)]) }

        one("spoolrun_messages_accepted_total", "counter",
            "Tunnel messages accepted (recorded in the state store).", "\(store.accepted)")
        family("spoolrun_messages_failed_total", "counter",
               "Tunnel messages quarantined in spool/failed, by reason code.",
               failedByReason.sorted { $0.key < $1.key }.map { ([("reason", $0.key)], "\($0.value)") })
        family("spoolrun_outbox_messages", "gauge", "Mail in the outbox, by state (failed: given up on, kept for a retry).",
               [("queued", store.outbox.queued), ("sent", store.outbox.sent), ("failed", store.outbox.failed)]
                   .map { ([("state", $0.0)], "\($0.1)") })
        one("spoolrun_outbox_oldest_queued_age_seconds", "gauge",
            "Age of the oldest queued mail when the metrics were written; 0 when none is queued.", Self.format(oldestQueuedAgeSeconds))
        one("spoolrun_held_messages", "gauge", "Tunnel messages held in spool/held (over quota).", "\(held)")
        one("spoolrun_spool_waiting_messages", "gauge", "Tunnel messages waiting in spool/new.", "\(waiting)")
        one("spoolrun_retrying_messages", "gauge",
            "Tunnel messages in spool/new being tried again after an error that may pass (quarantined after spool.max_attempts).",
            "\(store.retrying)")
        one("spoolrun_failed_removed_total", "counter",
            "Quarantined files removed from spool/failed by its retention (spool.failed_days, spool.failed_max_mb).",
            "\(store.failedRemoved)")
        one("spoolrun_last_successful_sweep_timestamp_seconds", "gauge",
            "When the last successful sweep finished, in unix seconds; 0 when none has.", Self.format(lastSuccessfulSweepTimestamp ?? 0))
        one("spoolrun_last_sweep_duration_seconds", "gauge", "How long the last sweep took.", Self.format(lastSweepDurationSeconds))
        one("spoolrun_last_sweep_success", "gauge", "1 when the last sweep completed, 0 when it failed or none has run.",
            store.lastSweep?.result == "ok" ? "1" : "0")
        one("spoolrun_messages_expired_total", "counter",
            "Messages removed from a mailbox by expiry (portal.retention_days or the envelope's expires), per recipient.",
            "\(store.expired)")
        one("spoolrun_mailboxes", "gauge", "Recipient mailboxes.", "\(store.mailboxes)")
        one("spoolrun_mailboxes_bytes", "gauge", "Size of the messages held in all mailboxes (original message size per recipient).",
            "\(store.mailboxBytes)")
        return out
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    static func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// The sweep's end: writes the metrics file when `metrics.textfile` is set.
public enum MetricsTextfile {
    /// node_exporter usually runs as another user: the file is readable by all, and holds
    /// counts only (no address, no content).
    public static let mode: mode_t = 0o644

    /// Gathers and writes atomically (a temporary dot-file in the same folder, renamed).
    /// Never throws: monitoring must not stop mail. A failure is logged as an error naming
    /// the path, the file keeps its last content, and the sweep's own result stands; the
    /// stale last-successful-sweep figure then shows it. Returns whether the file was written.
    @discardableResult
    public static func write(config: SpoolrunConfig, store: StateStore, now: Date, logger: Logger) -> Bool {
        guard let path = config.metricsTextfile else { return false }
        do {
            let text = try MetricsSnapshot.gather(config: config, store: store, now: now).prometheusText()
            try FileSystem.writeAtomically(Array(text.utf8), to: path, mode: mode)
            return true
        } catch {
            logger.error("cannot write the metrics file", metadata: ["step": "metrics", "path": "\(path)", "error": "\(error)"])
            return false
        }
    }
}
