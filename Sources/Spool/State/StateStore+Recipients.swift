// The recipients and settings tables, and what admin commands change in them (issue 16: all SQL in State/):
// the figures `recipient list` shows, a recipient's deletion (with its tombstones) and a new
// key pair after a reset.
import Foundation
import Crypto
import GRDB

extension StateStore {
    struct RecipientFigures {
        var address: String
        var mailboxID: String
        var created: Date
        var messages: Int
        var bytes: Int
    }

    func recipientFigures() throws -> [RecipientFigures] {
        try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT r.address, r.mailbox_id, r.created_at, COUNT(d.message_id) AS n, COALESCE(SUM(d.size), 0) AS bytes
                    FROM recipients r LEFT JOIN deliveries d ON d.mailbox_id = r.mailbox_id
                    GROUP BY r.address ORDER BY r.address
                    """).map {
                    RecipientFigures(address: try $0.value("address", in: "recipients"), mailboxID: try $0.value("mailbox_id", in: "recipients"),
                                     created: try $0.date("created_at", in: "recipients"), messages: try $0.value("n", in: "deliveries"),
                                     bytes: try $0.value("bytes", in: "deliveries"))
                }
            }
        }
    }

    /// Deletes the recipient and their deliveries, and leaves a tombstone for every message
    /// the address was sent so far: a mailbox made later for the same address starts empty,
    /// whatever reprocess or reset renders. Returns how many deliveries there were.
    func deleteRecipient(address: String, mailboxID: String, now: Date) throws -> Int {
        try wrap {
            try pool.write { db in
                let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deliveries WHERE mailbox_id = ?", arguments: [mailboxID]) ?? 0
                try Self.insertTombstones(try Self.envelopeIDs(addressedTo: address, db).map { ($0, address) },
                                          reason: .recipientDeleted, now: now, db)
                try db.execute(sql: "DELETE FROM deliveries WHERE mailbox_id = ?", arguments: [mailboxID])
                try db.execute(sql: "DELETE FROM recipients WHERE address = ?", arguments: [address])
                return n
            }
        }
    }

    /// The recipient's new public key and the notice with their new password, together.
    func replaceRecipientKey(address: String, publicKey: [UInt8], notice: OutboxEntry) throws {
        try wrap {
            try pool.write { db in
                try db.execute(sql: "UPDATE recipients SET public_key = ? WHERE address = ?", arguments: [Data(publicKey), address])
                try queue([notice], db)
            }
        }
    }

    /// The installation's 32-byte salt (docs/sealed-format.md §2), made on first use.
    /// Not a secret: it is published in www/portal.json.
    public func installationSalt() throws -> [UInt8] {
        try wrap {
            try pool.write { db in
                if let existing = try Data.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'installation_salt'") {
                    return [UInt8](existing)
                }
                let salt = SecureRandom.bytes(32)
                try db.execute(sql: "INSERT INTO settings (key, value) VALUES ('installation_salt', ?)", arguments: [Data(salt)])
                return salt
            }
        }
    }

    /// The known recipients among `addresses` (normalised).
    public func recipients(_ addresses: [String]) throws -> [String: RecipientRecord] {
        guard !addresses.isEmpty else { return [:] }
        return try wrap {
            try pool.read { db in
                var found: [String: RecipientRecord] = [:]
                for row in try Self.rows(db, in: addresses, { "SELECT * FROM recipients WHERE address IN (\($0))" }) {
                    let r = RecipientRecord(address: try row.value("address", in: "recipients"),
                                            mailboxID: try row.value("mailbox_id", in: "recipients"),
                                            publicKey: try row.bytes("public_key", in: "recipients"),
                                            createdAt: try row.date("created_at", in: "recipients"))
                    found[r.address] = r
                }
                return found
            }
        }
    }
}
