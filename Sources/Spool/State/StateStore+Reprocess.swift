// What `spoolrun reprocess` reads from the state store: which accepted messages to render
// again, and what their deliveries hold now.
import Foundation
import GRDB
import Tunnel

/// Which archived messages `reprocess` renders again.
public enum ReprocessSelection: Sendable, Equatable {
    case all
    /// One message by its envelope id.
    case message(String)
    /// The messages of one recipient (only that recipient's mailbox is written).
    case recipient(String)
    /// Messages received at or after this instant.
    case since(Date)

    /// A `--since` date: YYYY-MM-DD (midnight UTC) or RFC 3339.
    public static func date(_ text: String) -> Date? {
        TunnelEnvelope.parseTime(text.utf8.count == 10 ? text + "T00:00:00Z" : text)
    }
}

extension StateStore {
    /// The accepted messages selected, oldest first.
    public func messages(_ selection: ReprocessSelection) throws -> [MessageRecord] {
        try wrap {
            try pool.read { db in
                let all: [Row]
                switch selection {
                case .all:
                    all = try Row.fetchAll(db, sql: "SELECT * FROM messages ORDER BY received_at, envelope_id")
                case .message(let id):
                    all = try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE envelope_id = ?", arguments: [id])
                case .since(let date):
                    all = try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE received_at >= ? ORDER BY received_at, envelope_id",
                                           arguments: [UTCTime.database(date)])
                case .recipient(let address):
                    all = try Row.fetchAll(db, sql: """
                        SELECT m.* FROM message_recipients r JOIN messages m ON m.envelope_id = r.envelope_id
                        WHERE r.address = ? ORDER BY m.received_at, m.envelope_id
                        """, arguments: [address])
                }
                // A message whose archive copy expiry removed cannot be rendered again.
                return try all.filter { try $0.optionalDate("archive_removed_at", in: "messages") == nil }.map(Self.message)
            }
        }
    }

    /// The recorded deliveries among `messageIDs`, by message id.
    func deliveries(messageIDs: [String]) throws -> [String: DeliveryRecord] {
        guard !messageIDs.isEmpty else { return [:] }
        return try wrap {
            try pool.read { db in
                var found: [String: DeliveryRecord] = [:]
                for row in try Self.rows(db, in: messageIDs, { "SELECT * FROM deliveries WHERE message_id IN (\($0))" }) {
                    let d = try Self.delivery(row)
                    found[d.messageID] = d
                }
                return found
            }
        }
    }
}
