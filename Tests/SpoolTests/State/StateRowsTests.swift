// Rows read back from the state store (issue 16): a damaged row is an error that names its
// table and column, never a default; a recipient's messages are found through an index.
import Foundation
import GRDB
@testable import Spool
import TestSupport
import XCTest

final class StateRowsTests: XCTestCase {
    private func message(_ id: String, to recipients: [String], at date: Date) -> MessageRecord {
        MessageRecord(envelopeID: id, spoolName: "spool-\(id)", archiveName: "spool-\(id)", digest: String(repeating: "a", count: 64),
                      sender: "alice@corp.example", recipients: recipients, delivery: "webmail", readReceipt: false, created: date,
                      expires: nil, receivedAt: date, signer: "f", cipher: "aes", size: 10)
    }

    func testADamagedRowIsAnErrorNamingItsTableAndColumnNeverADefault() throws {
        let dir = try TemporaryDirectory()
        let store = try StateStore(directory: dir.file("state"))
        try store.record(accepted: [message("m1", to: ["bob@ext.example"], at: Date())], rejected: [])
        for (column, value) in [("created_at", "yesterday"), ("recipients", "not json")] {
            try store.pool.write { db in try db.execute(sql: "UPDATE messages SET \(column) = ? WHERE envelope_id = 'm1'", arguments: [value]) }
            XCTAssertThrowsError(try store.messages(.all)) { error in
                XCTAssertTrue("\(error)".contains("damaged row in table messages, column \(column)"), "\(error)")
                XCTAssertTrue("\(error)".contains(store.path), "the error names the state store: \(error)")
            }
            try store.pool.write { db in try db.execute(sql: "DELETE FROM messages") }
            try store.record(accepted: [message("m1", to: ["bob@ext.example"], at: Date())], rejected: [])
        }
        try store.record(accepted: [], rejected: [RejectionRecord(spoolName: "x", digest: "d", code: .replay, sentence: "s", rejectedAt: Date())])
        try store.pool.write { db in try db.execute(sql: "UPDATE rejections SET code = 'no-such-code'") }
        XCTAssertThrowsError(try store.known(spoolNames: ["x"])) { error in
            XCTAssertTrue("\(error)".contains("damaged row in table rejections, column code"), "\(error)")
        }
    }

    func testARecipientsMessagesAreFoundThroughAnIndexAlsoForMessagesFromBeforeTheUpgrade() throws {
        let dir = try TemporaryDirectory()
        var store: StateStore? = try StateStore(directory: dir.file("state"))
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        try store!.record(accepted: [message("m1", to: ["bob@ext.example", "carol@ext.example"], at: t0),
                                     message("m2", to: ["carol@ext.example"], at: t0.addingTimeInterval(1)),
                                     message("m3", to: ["bob@ext.example"], at: t0.addingTimeInterval(2))], rejected: [])
        // A store of the version before: no index; opening it again builds it.
        try store!.pool.write { db in
            try db.execute(sql: "DROP TABLE message_recipients; DELETE FROM grdb_migrations WHERE identifier = 'v11-message-recipients'")
        }
        store = nil
        let reopened = try StateStore(directory: dir.file("state"))
        XCTAssertEqual(try reopened.messages(.recipient("bob@ext.example")).map(\.envelopeID), ["m1", "m3"])
        XCTAssertEqual(try reopened.messages(.recipient("carol@ext.example")).map(\.envelopeID), ["m1", "m2"])
        let plan = try reopened.pool.read { db in
            try Row.fetchAll(db, sql: """
                EXPLAIN QUERY PLAN SELECT m.* FROM message_recipients r JOIN messages m ON m.envelope_id = r.envelope_id
                WHERE r.address = ? ORDER BY m.received_at, m.envelope_id
                """, arguments: ["bob@ext.example"]).map { $0["detail"] as String }
        }
        XCTAssertTrue(plan.contains { $0.contains("SEARCH r USING PRIMARY KEY (address=?)") }, "\(plan)")
        XCTAssertFalse(plan.contains { $0.hasPrefix("SCAN m") }, "no scan of every message: \(plan)")
    }
}
