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

}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
