// The state store (SQLite through GRDB): which tunnel files were accepted or quarantined,
// and each sweep's outcome. It holds envelope metadata only: no message content, no
// passwords, no keys (DESIGN §8). Commits are durable (WAL, synchronous=FULL) because a
// tunnel file leaves spool/new only after its record is.
import Foundation
import GRDB
import Crypto
import Tunnel

public struct StateStoreError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public var description: String { "state store \(path): \(problem)" }
}

/// One accepted tunnel file as recorded.
public struct MessageRecord: Sendable, Equatable {
    public var envelopeID: String
    public var spoolName: String
    public var archiveName: String
    public var digest: String
    public var sender: String
    public var recipients: [String]
    public var delivery: String
    public var readReceipt: Bool
    public var created: Date
    public var expires: Date?
    public var receivedAt: Date
    public var signer: String
    public var cipher: String
    public var size: Int
}

/// A recipient as the store knows them: no password, no private key.
public struct RecipientRecord: Sendable, Equatable {
    public var address: String
    public var mailboxID: String
    /// The 65-byte uncompressed P-256 point every object of the mailbox is sealed to.
    public var publicKey: [UInt8]
    public var createdAt: Date
}

/// One message in one recipient's mailbox.
public struct DeliveryRecord: Sendable, Equatable {
    public var mailboxID: String
    public var messageID: String
    public var envelopeID: String
    public var address: String
    public var receivedAt: Date
    /// The index entry, sealed to the recipient (context: mailbox, message, "entry").
    public var entry: [UInt8]
    public var size: Int
    /// SHA-256 (hex) of the read-receipt token, when a receipt was asked for.
    public var receiptHash: String? = nil
    /// The ReceiptContext, sealed with the outbox key.
    public var receiptContext: [UInt8]? = nil
    /// A keyed digest of everything the render wrote for this delivery (MailboxWriter): a
    /// render that would write the same again leaves the files as they are.
    public var renderDigest: String? = nil
}

/// One quarantined tunnel file as recorded.
public struct RejectionRecord: Sendable, Equatable {
    public var spoolName: String
    public var digest: String
    public var code: ReasonCode
    public var sentence: String
    public var rejectedAt: Date
}

public struct SweepRecord: Sendable, Equatable {
    public var startedAt: Date
    public var durationMS: Int
    public var result: String
    public var accepted: Int
    public var rejected: Int
    public var error: String?
}

public final class StateStore: @unchecked Sendable {
    // @unchecked Sendable: GRDB's DatabasePool serialises writes and is itself thread-safe.
    public let path: String
    /// The state directory: the database, and outbox/ with the payloads of large mail.
    let directory: String
    let pool: DatabasePool

    /// SQLite's page cache per connection, in KiB.
    static let pageCacheKiB = 256

    public init(directory: String) throws {
        self.directory = directory
        path = (directory as NSString).appendingPathComponent(StateDirectoryAccess.databaseName)
        try StateDirectoryAccess.prepare(directory)
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // A bounded page cache (256 KiB per connection, SQLite's default is 2 MiB): the
            // store is small and read through the OS page cache anyway, and a sweep's memory
            // then stays flat after its first messages instead of growing with the cache
            // (make bench: +4.4 MiB over 10,000 messages with the default, +1.0 MiB with this).
            try db.execute(sql: "PRAGMA cache_size = -\(Self.pageCacheKiB)")
        }
        configuration.busyMode = .timeout(10)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB's pool puts its writer into WAL mode after prepareDatabase and sets
            // synchronous = NORMAL there (commits then reach the disk only at a checkpoint);
            // the writer is one long-lived connection, so FULL is set again on it here.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try Self.migrator.migrate(pool)
        } catch {
            throw StateStoreError(path: path, problem: FileSystemCondition.explained("\(error)", in: directory))
        }
    }

    private static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE messages (
                    envelope_id TEXT PRIMARY KEY,
                    spool_name TEXT NOT NULL,
                    archive_name TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    recipients TEXT NOT NULL,
                    delivery TEXT NOT NULL,
                    read_receipt INTEGER NOT NULL,
                    created_at DATETIME NOT NULL,
                    expires_at DATETIME,
                    received_at DATETIME NOT NULL,
                    signer TEXT NOT NULL,
                    cipher TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    UNIQUE (spool_name, digest)
                );
                CREATE TABLE rejections (
                    spool_name TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    code TEXT NOT NULL,
                    sentence TEXT NOT NULL,
                    rejected_at DATETIME NOT NULL,
                    PRIMARY KEY (spool_name, digest)
                );
                CREATE TABLE sweeps (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    started_at DATETIME NOT NULL,
                    duration_ms INTEGER NOT NULL,
                    result TEXT NOT NULL,
                    accepted INTEGER NOT NULL,
                    rejected INTEGER NOT NULL,
                    error TEXT
                );
                """)
        }
        m.registerMigration("v2-recipients") { db in
            // Recipients: their mailbox id and public key only. The private key exists only
            // wrapped under the recipient's password, in www/k/ (docs/sealed-format.md §4).
            try db.execute(sql: """
                CREATE TABLE settings (
                    key TEXT PRIMARY KEY,
                    value BLOB NOT NULL
                );
                CREATE TABLE recipients (
                    address TEXT PRIMARY KEY,
                    mailbox_id TEXT NOT NULL UNIQUE,
                    public_key BLOB NOT NULL,
                    created_at DATETIME NOT NULL
                );
                """)
        }
        m.registerMigration("v3-outbox") { db in
            // Payloads are sealed (Outbox.swift): this table holds no password in clear.
            try db.execute(sql: """
                CREATE TABLE outbox (
                    uid TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    envelope_id TEXT,
                    mail_from TEXT NOT NULL,
                    rcpt TEXT NOT NULL,
                    sealed BLOB NOT NULL,
                    created_at DATETIME NOT NULL,
                    state TEXT NOT NULL DEFAULT 'queued',
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at DATETIME,
                    last_error TEXT
                );
                """)
        }
        m.registerMigration("v4-deliveries") { db in
            // One row per message and recipient. `entry` is the mailbox-index entry, sealed
            // to the recipient: the sweep cannot read an old index, so it rebuilds each
            // index from these rows.
            try db.execute(sql: """
                CREATE TABLE deliveries (
                    mailbox_id TEXT NOT NULL,
                    message_id TEXT NOT NULL,
                    envelope_id TEXT NOT NULL,
                    address TEXT NOT NULL,
                    received_at DATETIME NOT NULL,
                    entry BLOB NOT NULL,
                    size INTEGER NOT NULL,
                    PRIMARY KEY (mailbox_id, message_id)
                );
                """)
        }
        m.registerMigration("v5-mail-out") { db in
            // Outbox rows hold whole sealed messages now; delivery bookkeeping and retries.
            // Deliveries that asked for a read receipt carry the token's hash and the sealed
            // context the receipt needs; receipts_read records each receipt queued.
            try db.execute(sql: """
                ALTER TABLE outbox ADD COLUMN sent_at DATETIME;
                ALTER TABLE outbox ADD COLUMN retried_at DATETIME;
                CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
                ALTER TABLE deliveries ADD COLUMN receipt_hash TEXT;
                ALTER TABLE deliveries ADD COLUMN receipt_context BLOB;
                CREATE INDEX deliveries_receipt ON deliveries (receipt_hash) WHERE receipt_hash IS NOT NULL;
                CREATE TABLE receipts_read (
                    receipt_hash TEXT PRIMARY KEY,
                    read_at DATETIME NOT NULL,
                    queued_at DATETIME NOT NULL
                );
                """)
        }
        m.registerMigration("v6-outbox-files") { db in
            // A large mail (an OTP PDF) is kept sealed in its own file under outbox/, named
            // here; its `sealed` column is then empty (StateStore+Mail.swift).
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN payload_file TEXT")
        }
        m.registerMigration("v7-render-digest") { db in
            try db.execute(sql: "ALTER TABLE deliveries ADD COLUMN render_digest TEXT")
        }
        m.registerMigration("v8-expiry") { db in
            // What expiry removed (retention or the envelope's expires), and when an archive
            // copy went (spool.archive_days): reprocess leaves such messages out.
            try db.execute(sql: """
                CREATE TABLE expirations (
                    mailbox_id TEXT NOT NULL,
                    message_id TEXT NOT NULL,
                    envelope_id TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    expired_at DATETIME NOT NULL
                );
                ALTER TABLE messages ADD COLUMN archive_removed_at DATETIME;
                """)
        }
        m.registerMigration("v9-tombstones") { db in
            // What left a mailbox stays out of it, through reprocess and reset
            // (StateStore+Tombstones.swift).
            try createTombstones(db, now: Date())
        }
        m.registerMigration("v10-attempts") { db in
            // Sweeps that met an error about one tunnel file that may pass (StateStore+Attempts),
            // and what spool/failed's retention removed, counted by reason code so that the
            // quarantine totals never go down.
            try db.execute(sql: """
                CREATE TABLE attempts (
                    spool_name TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    first_at DATETIME NOT NULL,
                    last_at DATETIME NOT NULL,
                    last_error TEXT NOT NULL,
                    PRIMARY KEY (spool_name, digest)
                );
                CREATE TABLE failed_removed (
                    code TEXT PRIMARY KEY,
                    removed INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE counters (
                    name TEXT PRIMARY KEY,
                    value INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX rejections_age ON rejections (rejected_at);
                """)
        }
        m.registerMigration("v11-message-recipients") { db in
            // Who each message was sent to, by address: a recipient's messages are found by
            // this index (reprocess --recipient, recipient reset and delete), not by reading
            // every message's recipient list.
            try db.execute(sql: """
                CREATE TABLE message_recipients (
                    address TEXT NOT NULL,
                    envelope_id TEXT NOT NULL,
                    PRIMARY KEY (address, envelope_id)
                ) WITHOUT ROWID;
                INSERT OR IGNORE INTO message_recipients (address, envelope_id)
                    SELECT j.value, m.envelope_id FROM messages m, json_each(m.recipients) j;
                """)
        }
        return m
    }

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

    /// The rows of `sql(marks)` for every value, asked in chunks of 500 (SQLite's limit on
    /// host parameters): `marks` is the "?,?,..." list to put inside `IN (...)`.
    static func rows(_ db: Database, in values: [String], _ sql: (String) -> String) throws -> [Row] {
        var rows: [Row] = []
        for chunk in values.chunked(500) {
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            rows += try Row.fetchAll(db, sql: sql(marks), arguments: StatementArguments(Array(chunk)))
        }
        return rows
    }

    func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as StateStoreError { throw e } catch {
            throw StateStoreError(path: path, problem: FileSystemCondition.explained("\(error)", in: directory))
        }
    }

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

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
