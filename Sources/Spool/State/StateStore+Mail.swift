// The state store's mail side: the outbox queue (DESIGN §6) and the read-receipt records.
import Foundation
import GRDB
import Tunnel

extension StateStore {
    /// Inserts each entry once: its uid is derived from what caused it, so a repeat is ignored.
    /// Sealed payloads from this size on are kept in a file of their own, not in the database:
    /// binding a blob copies it twice more and SQLite's pages hold it again, so a mail with a
    /// PDF of 20 MB would cost several times that in memory at the commit.
    static let largePayload = 1 << 20

    /// Inside the batch's transaction. A large payload's file is written (durably) before its
    /// row, and only when there is no row yet: a mail queued before stays exactly as it was,
    /// and a file left by a crash before the commit is written again by the next render.
    func queue(_ entries: [OutboxEntry], _ db: Database) throws {
        for o in entries {
            var inline = Data(), file: String?
            if o.sealed.count >= Self.largePayload {
                let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM outbox WHERE uid = ?", arguments: [o.uid]) ?? false
                if exists { continue }
                let name = "outbox/\(o.uid).sealed"
                try FileSystem.makeDirectory((directory as NSString).appendingPathComponent("outbox"), mode: 0o700)
                try FileSystem.writeAtomically(o.sealed, to: (directory as NSString).appendingPathComponent(name), mode: 0o600)
                file = name
            } else {
                inline = Data(o.sealed)
            }
            try db.execute(sql: """
                INSERT OR IGNORE INTO outbox (uid, kind, envelope_id, mail_from, rcpt, sealed, created_at, state, attempts,
                    next_attempt_at, payload_file)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)
                """, arguments: [o.uid, o.kind.rawValue, o.envelopeID, o.mailFrom, o.recipient, inline, UTCTime.database(o.createdAt),
                                 UTCTime.database(o.createdAt), file])
        }
    }

    /// The sealed message of an entry: in hand, in its file, or read from its row.
    public func sealedPayload(of entry: OutboxEntry) throws -> [UInt8] {
        if !entry.sealed.isEmpty { return entry.sealed }
        if let file = entry.payloadFile {
            let path = (directory as NSString).appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw StateStoreError(path: path, problem: "the sealed payload of outbox entry \(entry.uid) cannot be read")
            }
            return [UInt8](data)
        }
        return try wrap {
            try pool.read { db in
                (try Data.fetchOne(db, sql: "SELECT sealed FROM outbox WHERE uid = ?", arguments: [entry.uid])).map { [UInt8]($0) } ?? []
            }
        }
    }

    static func delivery(_ row: Row) throws -> DeliveryRecord {
        let t = "deliveries"
        return DeliveryRecord(mailboxID: try row.value("mailbox_id", in: t), messageID: try row.value("message_id", in: t),
                              envelopeID: try row.value("envelope_id", in: t), address: try row.value("address", in: t),
                              receivedAt: try row.date("received_at", in: t), entry: try row.bytes("entry", in: t),
                              size: try row.value("size", in: t), receiptHash: try row.optional("receipt_hash", in: t),
                              receiptContext: try (row.optional("receipt_context", in: t) as Data?).map { [UInt8]($0) },
                              renderDigest: try row.optional("render_digest", in: t))
    }

    static func outboxEntry(_ row: Row) throws -> OutboxEntry {
        let t = "outbox"
        // Rows listed without their payload (dueOutbox) have no "sealed" column: it is read
        // one entry at a time, when that mail is sent (sealedPayload).
        let sealed = row.hasColumn("sealed") ? [UInt8]((try row.optional("sealed", in: t) as Data?) ?? Data()) : []
        var e = OutboxEntry(uid: try row.value("uid", in: t), kind: try row.code(OutboxEntry.Kind.self, "kind", in: t),
                            envelopeID: try row.optional("envelope_id", in: t), mailFrom: try row.value("mail_from", in: t),
                            recipient: try row.value("rcpt", in: t), sealed: sealed, createdAt: try row.date("created_at", in: t))
        e.payloadFile = try row.optional("payload_file", in: t)
        e.state = try row.code(OutboxEntry.State.self, "state", in: t)
        e.attempts = try row.value("attempts", in: t)
        e.nextAttemptAt = try row.optionalDate("next_attempt_at", in: t)
        e.lastError = try row.optional("last_error", in: t)
        e.sentAt = try row.optionalDate("sent_at", in: t)
        e.retriedAt = try row.optionalDate("retried_at", in: t)
        return e
    }

    /// Queued outbox entries, oldest first.
    public func queuedOutbox() throws -> [OutboxEntry] {
        try outbox(where: "state = 'queued'")
    }

    /// Queued entries whose next attempt is due at `now`, oldest first, without their payloads
    /// (`sealedPayload` reads each when it is sent: a queue of PDFs is never in memory at once).
    public func dueOutbox(now: Date, limit: Int = 1000) throws -> [OutboxEntry] {
        try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT uid, kind, envelope_id, mail_from, rcpt, created_at, state, attempts, next_attempt_at, last_error,
                        sent_at, retried_at, payload_file
                    FROM outbox WHERE state = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
                    ORDER BY created_at, uid LIMIT ?
                    """, arguments: [UTCTime.database(now), limit]).map(Self.outboxEntry)
            }
        }
    }

    /// Every outbox entry (or those in one state), oldest first.
    public func outbox(state: OutboxEntry.State? = nil) throws -> [OutboxEntry] {
        try outbox(where: state.map { "state = '\($0.rawValue)'" } ?? "1")
    }

    private func outbox(where condition: String) throws -> [OutboxEntry] {
        try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE \(condition) ORDER BY created_at, uid").map(Self.outboxEntry)
            }
        }
    }

    /// One entry by its uid, or by a unique prefix of at least 6 characters.
    public func outboxEntry(id: String) throws -> OutboxEntry? {
        guard id.count >= 6, id.allSatisfy(\.isHexDigit) else { return nil }
        return try wrap {
            try pool.read { db in
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE uid LIKE ? LIMIT 2", arguments: [id.lowercased() + "%"])
                return rows.count == 1 ? try Self.outboxEntry(rows[0]) : nil
            }
        }
    }

    /// Records one delivery attempt's outcome.
    public func recordAttempt(uid: String, outcome: OutboxEntry.State, error: String?, nextAttempt: Date?, now: Date) throws {
        try wrap {
            try pool.write { db in
                try db.execute(sql: """
                    UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
                        sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END
                    WHERE uid = ?
                    """, arguments: [outcome.rawValue, error, UTCTime.database(nextAttempt), outcome.rawValue, UTCTime.database(now), uid])
            }
        }
    }

    /// An administrator's retry: queued again, due now, with a fresh give-up window.
    public func retryOutbox(uid: String, now: Date) throws {
        try wrap {
            try pool.write { db in
                try db.execute(sql: """
                    UPDATE outbox SET state = 'queued', next_attempt_at = ?, retried_at = ? WHERE uid = ? AND state != 'sent'
                    """, arguments: [UTCTime.database(now), UTCTime.database(now), uid])
            }
        }
    }

    public struct OutboxCounts: Sendable, Equatable {
        public var queued = 0
        public var sent = 0
        public var failed = 0
        /// When the oldest queued entry was queued.
        public var oldestQueued: Date?
    }

    public func outboxCounts() throws -> OutboxCounts {
        try wrap {
            try pool.read { db in
                var c = OutboxCounts()
                for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM outbox GROUP BY state") {
                    switch OutboxEntry.State(rawValue: row["state"]) {
                    case .queued: c.queued = row["n"]
                    case .sent: c.sent = row["n"]
                    case .failed: c.failed = row["n"]
                    case nil: break
                    }
                }
                c.oldestQueued = try String.fetchOne(db, sql: "SELECT MIN(created_at) FROM outbox WHERE state = 'queued'").flatMap(UTCTime.parseDatabase)
                return c
            }
        }
    }

    // MARK: - Read receipts

    /// The deliveries that carry these receipt-token hashes (unknown hashes are left out).
    public func deliveries(receiptHashes: [String]) throws -> [String: DeliveryRecord] {
        guard !receiptHashes.isEmpty else { return [:] }
        return try wrap {
            try pool.read { db in
                var found: [String: DeliveryRecord] = [:]
                for row in try Self.rows(db, in: receiptHashes, { "SELECT * FROM deliveries WHERE receipt_hash IN (\($0))" }) {
                    let d = try Self.delivery(row)
                    if let h = d.receiptHash { found[h] = d }
                }
                return found
            }
        }
    }

    /// Where the sweep stopped reading the receipt log.
    public func receiptLogPosition() throws -> ReceiptLogPosition? {
        try wrap {
            try pool.read { db in
                try Data.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'receipt_log'").flatMap {
                    try? JSONDecoder().decode(ReceiptLogPosition.self, from: $0)
                }
            }
        }
    }

    /// In one transaction: the receipts read (each hash once), their MDNs queued, and the log
    /// position moved past the lines they came from. A crash before the commit rereads the
    /// same lines; after it, they are past.
    public func recordReceipts(_ reads: [(hash: String, readAt: Date)], mdns: [OutboxEntry], position: ReceiptLogPosition,
                               now: Date) throws {
        try wrap {
            try pool.write { db in
                for r in reads {
                    try db.execute(sql: "INSERT OR IGNORE INTO receipts_read (receipt_hash, read_at, queued_at) VALUES (?, ?, ?)",
                                   arguments: [r.hash, UTCTime.database(r.readAt), UTCTime.database(now)])
                }
                try queue(mdns, db)
                try db.execute(sql: "INSERT OR REPLACE INTO settings (key, value) VALUES ('receipt_log', ?)",
                               arguments: [try JSONEncoder().encode(position)])
            }
        }
    }

    /// The subset of `hashes` whose receipt was already queued.
    public func receiptsAlreadyRead(_ hashes: [String]) throws -> Set<String> {
        guard !hashes.isEmpty else { return [] }
        return try wrap {
            try pool.read { db in
                Set(try Self.rows(db, in: hashes, { "SELECT receipt_hash FROM receipts_read WHERE receipt_hash IN (\($0))" })
                    .map { $0["receipt_hash"] as String })
            }
        }
    }
}

/// The receipt log's identity and how far it was read (survives logrotate: see ReceiptLog).
public struct ReceiptLogPosition: Codable, Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var offset: UInt64
    /// SHA-256 (hex) of the file's first min(offset, 256) bytes: a file truncated in place
    /// and written again (copytruncate) no longer starts the same.
    public var head: String?
}

extension StateStore {
    /// A mailbox's deliveries, newest first.
    public func deliveries(mailboxID: String) throws -> [DeliveryRecord] {
        try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT * FROM deliveries WHERE mailbox_id = ? ORDER BY received_at DESC, message_id DESC
                    """, arguments: [mailboxID]).map { row in
                    try Self.delivery(row)
                }
            }
        }
    }
}
