// Tombstones (issue 15): what was taken out of a mailbox stays out. Every removal of a
// message from a recipient (recall, expiry, recipient delete, and later the recipient's own
// delete) leaves a row per (envelope id, address) that every render honours: the sweep,
// `spoolrun reprocess` and `spoolrun recipient reset`. The archive still holds the message
// (it is the ground truth for reprocess), so without these rows a reprocess would bring it
// back, with a receipt token that counts again, into whichever mailbox the address has then.
import Foundation
import GRDB
import Tunnel

/// Why a message left a recipient's mailbox; the tombstone keeps it.
public enum RemovalReason: String, Sendable, CaseIterable {
    /// `spoolrun recall ID [--recipient ADDR]`.
    case recall
    /// Older than portal.retention_days.
    case retention
    /// Past the envelope's `expires`.
    case expires
    /// `spoolrun recipient delete ADDR`: every message the address had before.
    case recipientDeleted = "recipient-deleted"
    /// Recorded by the schema upgrade for a message that an earlier version removed
    /// without a record naming the address (a recipient delete).
    case removedBeforeUpgrade = "removed-before-upgrade"
}

extension StateStore {
    /// The table, and the removals earlier versions made, as tombstones: those recorded in
    /// `expirations` (by mailbox, whose address is still known), and every (message, address)
    /// of an accepted message that has no delivery, which only a removal leaves behind (the
    /// sweep records a message and its deliveries in one transaction).
    static func createTombstones(_ db: Database, now: Date) throws {
        try db.execute(sql: """
            CREATE TABLE tombstones (
                envelope_id TEXT NOT NULL,
                address TEXT NOT NULL,
                reason TEXT NOT NULL,
                removed_at DATETIME NOT NULL,
                PRIMARY KEY (envelope_id, address)
            ) WITHOUT ROWID;
            INSERT OR IGNORE INTO tombstones (envelope_id, address, reason, removed_at)
                SELECT e.envelope_id, r.address, e.reason, e.expired_at FROM expirations e
                JOIN recipients r ON r.mailbox_id = e.mailbox_id;
            """)
        try db.execute(sql: """
            INSERT OR IGNORE INTO tombstones (envelope_id, address, reason, removed_at)
                SELECT m.envelope_id, j.value, ?, ? FROM messages m, json_each(m.recipients) j
                WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.envelope_id = m.envelope_id AND d.address = j.value)
            """, arguments: [RemovalReason.removedBeforeUpgrade.rawValue, UTCTime.database(now)])
    }

    /// The key of `tombstones(envelopeIDs:)`'s set.
    static func tombstoneKey(envelopeID: String, address: String) -> String { envelopeID + "\u{0}" + address }

    /// The (envelope id, address) pairs among these messages that must not be rendered.
    func tombstones(envelopeIDs: [String]) throws -> Set<String> {
        guard !envelopeIDs.isEmpty else { return [] }
        return try wrap {
            try pool.read { db in
                Set(try Self.rows(db, in: Array(Set(envelopeIDs)), { "SELECT envelope_id, address FROM tombstones WHERE envelope_id IN (\($0))" })
                    .map { Self.tombstoneKey(envelopeID: $0["envelope_id"], address: $0["address"]) })
            }
        }
    }

    /// Records removals inside the caller's transaction; a pair already recorded keeps its
    /// first reason.
    static func insertTombstones(_ pairs: [(envelopeID: String, address: String)], reason: RemovalReason, now: Date,
                                 _ db: Database) throws {
        for p in pairs {
            try db.execute(sql: """
                INSERT OR IGNORE INTO tombstones (envelope_id, address, reason, removed_at) VALUES (?, ?, ?, ?)
                """, arguments: [p.envelopeID, p.address, reason.rawValue, UTCTime.database(now)])
        }
    }

    /// Every accepted message addressed to `address` (its envelope ids), inside a transaction.
    static func envelopeIDs(addressedTo address: String, _ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT envelope_id FROM message_recipients WHERE address = ?", arguments: [address])
    }

    /// How many tombstones carry each reason (for status and tests).
    public func tombstoneCounts() throws -> [String: Int] {
        try wrap {
            try pool.read { db in
                var out: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT reason, COUNT(*) AS n FROM tombstones GROUP BY reason") {
                    out[row["reason"]] = row["n"]
                }
                return out
            }
        }
    }
}
