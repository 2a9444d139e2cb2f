// The messages and rejections tables (one row per tunnel file accepted or quarantined), and
// the batch's one transaction that records them with what the batch produced.
import Foundation
import GRDB
import Tunnel

extension StateStore {
    /// What the store already knows about these spool names: a crash after the commit
    /// and before the move leaves a recorded file in spool/new, which is finished, not redone.
    /// The key of `known(spoolNames:)`'s dictionaries.
    public static func key(_ spoolName: String, _ digest: String) -> String { spoolName + "\u{0}" + digest }

    /// Keyed by spool name and digest: Maildir names are unique, but a reused name with
    /// other content is a new file.
    public func known(spoolNames: [String]) throws -> (accepted: [String: MessageRecord], rejected: [String: RejectionRecord]) {
        guard !spoolNames.isEmpty else { return ([:], [:]) }
        return try wrap {
            try pool.read { db in
                var accepted: [String: MessageRecord] = [:]
                var rejected: [String: RejectionRecord] = [:]
                for row in try Self.rows(db, in: spoolNames, { "SELECT * FROM messages WHERE spool_name IN (\($0))" }) {
                    let r = try Self.message(row)
                    accepted[Self.key(r.spoolName, r.digest)] = r
                }
                for row in try Self.rows(db, in: spoolNames, { "SELECT * FROM rejections WHERE spool_name IN (\($0))" }) {
                    let r = try Self.rejection(row)
                    rejected[Self.key(r.spoolName, r.digest)] = r
                }
                return (accepted, rejected)
            }
        }
    }

    /// The subset of `ids` already recorded (the replay check).
    public func existingEnvelopeIDs(_ ids: [String]) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return try wrap {
            try pool.read { db in
                Set(try Self.rows(db, in: ids, { "SELECT envelope_id FROM messages WHERE envelope_id IN (\($0))" })
                    .map { $0["envelope_id"] as String })
            }
        }
    }

    /// Records a batch in one durable transaction (the group commit of DESIGN §10).
    public func record(accepted: [MessageRecord], rejected: [RejectionRecord], writes: BatchWrites = BatchWrites()) throws {
        let recipients = writes.recipients
        guard !accepted.isEmpty || !rejected.isEmpty || !recipients.isEmpty || !writes.outbox.isEmpty
                || !writes.deliveries.isEmpty else { return }
        try wrap {
            try pool.write { db in
                for d in writes.deliveries {
                    try db.execute(sql: """
                        INSERT OR REPLACE INTO deliveries (mailbox_id, message_id, envelope_id, address, received_at, entry, size,
                            receipt_hash, receipt_context, render_digest)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [d.mailboxID, d.messageID, d.envelopeID, d.address, UTCTime.database(d.receivedAt), Data(d.entry), d.size,
                                         d.receiptHash, d.receiptContext.map { Data($0) }, d.renderDigest])
                }
                try queue(writes.outbox, db)
                for r in recipients {
                    try db.execute(sql: """
                        INSERT INTO recipients (address, mailbox_id, public_key, created_at) VALUES (?, ?, ?, ?)
                        """, arguments: [r.address, r.mailboxID, Data(r.publicKey), UTCTime.database(r.createdAt)])
                }
                for m in accepted {
                    try db.execute(sql: """
                        INSERT INTO messages (envelope_id, spool_name, archive_name, digest, sender, recipients,
                            delivery, read_receipt, created_at, expires_at, received_at, signer, cipher, size)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        arguments: [m.envelopeID, m.spoolName, m.archiveName, m.digest, m.sender,
                                    Self.encodeList(m.recipients), m.delivery, m.readReceipt, UTCTime.database(m.created),
                                    UTCTime.database(m.expires), UTCTime.database(m.receivedAt), m.signer, m.cipher, m.size])
                    for address in Set(m.recipients) {
                        try db.execute(sql: "INSERT OR IGNORE INTO message_recipients (address, envelope_id) VALUES (?, ?)",
                                       arguments: [address, m.envelopeID])
                    }
                }
                for r in rejected {
                    try db.execute(sql: """
                        INSERT OR REPLACE INTO rejections (spool_name, digest, code, sentence, rejected_at)
                        VALUES (?, ?, ?, ?, ?)
                        """, arguments: [r.spoolName, r.digest, r.code.rawValue, r.sentence, UTCTime.database(r.rejectedAt)])
                }
            }
        }
    }

    public func message(envelopeID: String) throws -> MessageRecord? {
        try wrap {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM messages WHERE envelope_id = ?", arguments: [envelopeID])
                    .map(Self.message)
            }
        }
    }

    static func message(_ row: Row) throws -> MessageRecord {
        let t = "messages"
        return MessageRecord(envelopeID: try row.value("envelope_id", in: t), spoolName: try row.value("spool_name", in: t),
                             archiveName: try row.value("archive_name", in: t), digest: try row.value("digest", in: t),
                             sender: try row.value("sender", in: t), recipients: try row.stringList("recipients", in: t),
                             delivery: try row.value("delivery", in: t), readReceipt: try row.value("read_receipt", in: t),
                             created: try row.date("created_at", in: t), expires: try row.optionalDate("expires_at", in: t),
                             receivedAt: try row.date("received_at", in: t), signer: try row.value("signer", in: t),
                             cipher: try row.value("cipher", in: t), size: try row.value("size", in: t))
    }

    static func rejection(_ row: Row) throws -> RejectionRecord {
        let t = "rejections"
        return RejectionRecord(spoolName: try row.value("spool_name", in: t), digest: try row.value("digest", in: t),
                               code: try row.code(ReasonCode.self, "code", in: t), sentence: try row.value("sentence", in: t),
                               rejectedAt: try row.date("rejected_at", in: t))
    }

    private static func encodeList(_ list: [String]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: list), as: UTF8.self)
    }
}
