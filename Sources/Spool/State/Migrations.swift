// The state store's schema, one migration per change, in order (GRDB runs the ones a store
// has not seen yet, the first time any command opens it).
import Foundation
import GRDB
import Tunnel

extension StateStore {
    static var migrator: DatabaseMigrator {
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
}
