// `spoolrun outbox list|show|retry` (DESIGN §6): the administrator's view of the queue. The
// listing shows ids, kinds, addresses, states and errors; `show` adds the message's header
// block, and prints the whole message only when asked (a password notice holds a password).
import Foundation
import Tunnel

public struct OutboxAdmin: Sendable {
    let config: SpoolrunConfig

    public init(config: SpoolrunConfig) { self.config = config }

    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    private func store() throws -> StateStore { try StateStore(directory: config.state) }

    public func list(json: Bool) throws -> String {
        let entries = try store().outbox()
        if json {
            let rows: [[String: Any]] = entries.map { e in
                var row: [String: Any] = ["id": e.uid, "kind": e.kind.rawValue, "from": e.mailFrom, "to": e.recipient,
                                          "state": e.state.rawValue, "attempts": e.attempts,
                                          "queued_at": TunnelEnvelope.formatTime(e.createdAt)]
                if let v = e.envelopeID { row["envelope_id"] = v }
                if let v = e.nextAttemptAt, e.state == .queued { row["next_attempt_at"] = TunnelEnvelope.formatTime(v) }
                if let v = e.sentAt { row["sent_at"] = TunnelEnvelope.formatTime(v) }
                if let v = e.lastError { row["last_error"] = v }
                return row
            }
            let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
        guard !entries.isEmpty else { return "the outbox is empty" }
        return entries.map { e in
            var line = "\(e.uid.prefix(12))  \(e.state.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0))  "
                + "\(e.kind.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0))  \(e.recipient)"
                + "  queued \(TunnelEnvelope.formatTime(e.createdAt))  attempts \(e.attempts)"
            if e.state == .queued, let next = e.nextAttemptAt, e.attempts > 0 { line += "  next \(TunnelEnvelope.formatTime(next))" }
            if let err = e.lastError, e.state != .sent { line += "\n              last error: \(err)" }
            return line
        }.joined(separator: "\n")
    }

    private func entry(_ id: String) throws -> OutboxEntry {
        guard let e = try store().outboxEntry(id: id) else {
            throw Problem(description: "no outbox entry has the id \(id) (give at least 6 hex digits of an id that `spoolrun outbox list` shows)")
        }
        return e
    }

    public func show(_ id: String, wholeMessage: Bool) throws -> String {
        let e = try entry(id)
        let message = try OutboxKey.loadOrCreate(path: config.outboxKey).message(of: e, sealed: try store().sealedPayload(of: e))
        var lines = ["id: \(e.uid)", "kind: \(e.kind.rawValue)", "state: \(e.state.rawValue)", "envelope from: \(e.mailFrom)",
                     "envelope to: \(e.recipient)", "queued: \(TunnelEnvelope.formatTime(e.createdAt))",
                     "attempts: \(e.attempts)"]
        if let v = e.envelopeID { lines.append("caused by envelope: \(v)") }
        if let v = e.sentAt { lines.append("sent: \(TunnelEnvelope.formatTime(v))") }
        if let v = e.nextAttemptAt, e.state == .queued { lines.append("next attempt: \(TunnelEnvelope.formatTime(v))") }
        if let v = e.lastError { lines.append("last error: \(v)") }
        lines.append("size: \(message.count) bytes")
        if wholeMessage {
            lines += ["", String(decoding: message, as: UTF8.self)]
        } else {
            let head = message.split(separator: 0x0A, omittingEmptySubsequences: false).prefix { !$0.isEmpty }
            lines += ["", "header:"] + head.map { "  " + String(decoding: $0, as: UTF8.self) }
            lines.append("(--message prints the whole message; a password notice contains the recipient's password)")
        }
        return lines.joined(separator: "\n")
    }

    /// Queues a failed (or waiting) entry again, due at once, with a new give-up window.
    public func retry(_ id: String, now: Date = Date()) throws -> String {
        let e = try entry(id)
        guard e.state != .sent else { throw Problem(description: "outbox entry \(e.uid) was already sent") }
        try store().retryOutbox(uid: e.uid, now: now)
        return "outbox entry \(e.uid) is queued again; the next sweep sends it"
    }
}
