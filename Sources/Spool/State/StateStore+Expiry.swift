// What expiry reads and records (DESIGN §8, portal.retention_days, the envelope's `expires`,
// spool.archive_days): which deliveries are due to go, and what went.
import Foundation
import GRDB
import Tunnel

extension StateStore {
    /// Deliveries received before `retainedSince`, or whose envelope's `expires` has passed
    /// at `now`, with the reason.
    func deliveriesToExpire(now: Date, retainedSince: Date) throws -> [(delivery: DeliveryRecord, reason: RemovalReason)] {
        try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT d.*, m.expires_at AS envelope_expires FROM deliveries d
                    LEFT JOIN messages m ON m.envelope_id = d.envelope_id
                    WHERE d.received_at < ? OR (m.expires_at IS NOT NULL AND m.expires_at <= ?)
                    """, arguments: [UTCTime.database(retainedSince), UTCTime.database(now)]).map { row in
                    let d = try Self.delivery(row)
                    let expires = try row.optionalDate("envelope_expires", in: "messages")
                    return (d, expires.map { $0 <= now } == true ? RemovalReason.expires : .retention)
                }
            }
        }
    }

    /// Removes the deliveries' rows (their receipt tokens stop counting with them) and keeps
    /// a record of each, and its tombstone, in one transaction.
    func recordExpired(_ expired: [(delivery: DeliveryRecord, reason: RemovalReason)], now: Date) throws {
        guard !expired.isEmpty else { return }
        try wrap {
            try pool.write { db in
                for (d, reason) in expired {
                    try db.execute(sql: "DELETE FROM deliveries WHERE mailbox_id = ? AND message_id = ?", arguments: [d.mailboxID, d.messageID])
                    try db.execute(sql: """
                        INSERT INTO expirations (mailbox_id, message_id, envelope_id, reason, expired_at) VALUES (?, ?, ?, ?, ?)
                        """, arguments: [d.mailboxID, d.messageID, d.envelopeID, reason.rawValue, UTCTime.database(now)])
                    try Self.insertTombstones([(d.envelopeID, d.address)], reason: reason, now: now, db)
                }
            }
        }
    }

    /// Accepted messages whose archive copy is older than `keptSince` and still there.
    func archivesToExpire(keptSince: Date) throws -> [MessageRecord] {
        try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE received_at < ? AND archive_removed_at IS NULL",
                                 arguments: [UTCTime.database(keptSince)]).map(Self.message)
            }
        }
    }

    func recordArchiveRemoved(envelopeIDs: [String], now: Date) throws {
        guard !envelopeIDs.isEmpty else { return }
        try wrap {
            try pool.write { db in
                for id in envelopeIDs {
                    try db.execute(sql: "UPDATE messages SET archive_removed_at = ? WHERE envelope_id = ?", arguments: [UTCTime.database(now), id])
                }
            }
        }
    }

    /// The bytes each address's mailbox holds (the original size of each delivery), for the
    /// quota; an address without a mailbox is left out.
    func mailboxBytes(_ addresses: [String]) throws -> [String: Int] {
        guard !addresses.isEmpty else { return [:] }
        return try wrap {
            try pool.read { db in
                var out: [String: Int] = [:]
                for row in try Self.rows(db, in: addresses, { """
                    SELECT r.address AS address, COALESCE(SUM(d.size), 0) AS bytes FROM recipients r
                    LEFT JOIN deliveries d ON d.mailbox_id = r.mailbox_id WHERE r.address IN (\($0)) GROUP BY r.address
                    """ }) {
                    out[row["address"]] = row["bytes"]
                }
                return out
            }
        }
    }

    /// How many deliveries expiry has removed, ever (recalls not counted).
    public func expiredCount() throws -> Int {
        try wrap { try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM expirations WHERE reason != 'recall'") ?? 0 } }
    }

    /// How many deliveries were recalled, ever.
    public func recalledCount() throws -> Int {
        try wrap { try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM expirations WHERE reason = 'recall'") ?? 0 } }
    }

    /// The delivered copies of one message.
    func deliveries(envelopeID: String) throws -> [DeliveryRecord] {
        try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM deliveries WHERE envelope_id = ?", arguments: [envelopeID]).map(Self.delivery)
            }
        }
    }
}
