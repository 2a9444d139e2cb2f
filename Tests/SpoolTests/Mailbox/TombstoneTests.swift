// What was taken away stays away (issue 15): a recall, an expiry or a recipient delete leaves
// a tombstone per (message, address) that reprocess, reset and every later render honour.
import Crypto
import Foundation
import Logging
@testable import Spool
import TestSupport
import XCTest

extension RenderStageTests {
    private func reprocessAll(at date: Date = Date()) throws -> ReprocessSummary {
        try Reprocess(config: config, logger: Logger(label: "test"), loginIterations: iterations, clock: { date })
            .run(ReprocessOptions(selection: .all))
    }

    private func writeReceiptLog(_ tokens: [String]) throws {
        try FileSystem.makeDirectory(config.logs, mode: 0o755)
        let lines = tokens.map { "2026-11-27T12:00:00+00:00 /r/\($0)\n" }.joined()
        try Data(lines.utf8).write(to: URL(fileURLWithPath: config.logs + "/receipts.log"))
    }

    func testARecalledMessageStaysGoneAfterReprocessAllAndItsReceiptIsNeverAnswered() throws {
        config.sendmail = "/bin/true"
        let t0 = Date()
        try deliverExpiring("Wrong figures", readReceipt: true, name: "m1")
        XCTAssertEqual(try sweepWithExpiry(at: t0).accepted, 1)
        let recalled = try XCTUnwrap(try bobsMessages()["Wrong figures"])
        let token = try XCTUnwrap(recalled.receipt)
        let store = try StateStore(directory: config.state)
        let envelopeID = try XCTUnwrap(try store.messages(.all).first?.envelopeID)
        _ = try Recall(config: config, logger: Logger(label: "test"), clock: { t0.addingTimeInterval(60) }).run(envelopeID: envelopeID)

        let summary = try reprocessAll(at: t0.addingTimeInterval(120))
        XCTAssertEqual(summary.rewritten, 0, "nothing is rendered again")
        XCTAssertTrue(try bobsMessages().isEmpty, "the recalled message is not back in the index")
        let (_, mailbox) = try XCTUnwrap(try signIn("bob@ext.example", "pw-bob-expiry"))
        XCTAssertFalse(FileSystem.exists(PortalFiles(root: config.www).mailboxPath(mailbox) + "/" + recalled.id), "nor its files")
        XCTAssertEqual(try store.deliveries(mailboxID: mailbox).count, 0, "nor its row")

        // Bob opens an old copy he kept: the read is never answered.
        try writeReceiptLog([token])
        _ = try sweepWithExpiry(at: t0.addingTimeInterval(180))
        XCTAssertEqual(try store.outbox().filter { $0.kind == .readReceipt }.count, 0, "no receipt for a recalled message")
        XCTAssertEqual(try store.tombstoneCounts(), ["recall": 1])
    }

    func testAnExpiredMessageIsNotRenderedAgainByReprocessBeforeOrAfterTheSweepRemovedIt() throws {
        config.sendmail = "/bin/true"
        config.retentionDays = 1
        let t0 = Date()
        try deliverExpiring("Expires soon", expires: t0.addingTimeInterval(120), name: "m1")
        try deliverExpiring("Kept a day", name: "m2")
        XCTAssertEqual(try sweepWithExpiry(at: t0).accepted, 2)
        let (_, mailbox) = try XCTUnwrap(try signIn("bob@ext.example", "pw-bob-expiry"))
        let before = try bobsMessages()

        // Past its `expires`, before any sweep took it out: reprocess leaves it alone.
        let early = try reprocessAll(at: t0.addingTimeInterval(600))
        XCTAssertEqual(early.expired, 1, "one message is past its expiry")
        XCTAssertEqual(early.rewritten + early.unchanged, 1, "only the other one is rendered")

        // The sweep takes it out; reprocess does not bring it back.
        _ = try sweepWithExpiry(at: t0.addingTimeInterval(600))
        _ = try reprocessAll(at: t0.addingTimeInterval(660))
        XCTAssertEqual(Set(try bobsMessages().keys), ["Kept a day"])
        XCTAssertFalse(FileSystem.exists(PortalFiles(root: config.www).mailboxPath(mailbox) + "/" + before["Expires soon"]!.id))

        // Past the retention: taken out, and never rendered again, even by a reprocess whose
        // clock is wrong (the tombstone holds, not only the date check).
        _ = try sweepWithExpiry(at: t0.addingTimeInterval(2 * 86_400))
        XCTAssertTrue(try bobsMessages().isEmpty)
        _ = try reprocessAll(at: t0)
        XCTAssertTrue(try bobsMessages().isEmpty, "tombstones hold whatever the clock says")
        XCTAssertEqual(try StateStore(directory: config.state).tombstoneCounts(), ["expires": 1, "retention": 1])
    }

    func testADeletedRecipientMailedAgainStartsEmptyThroughReprocessAndReset() throws {
        config.sendmail = "/bin/true"
        try deliver(original, to: ["bob@ext.example", "carol@ext.example"],
                    passwords: ["bob@ext.example": "old-pw-bob-7Kq2", "carol@ext.example": "pw-carol-9Zt4w"], name: "m1")
        XCTAssertEqual(try sweep().accepted, 1)
        XCTAssertEqual(try RecipientDeletion(config: config, logger: Logger(label: "test")).run("bob@ext.example"), 1)

        let second = Array("From: Alice <alice@corp.example>\r\nTo: bob@ext.example\r\nSubject: After the deletion\r\n\r\nNew\r\n".utf8)
        try deliver(second, to: ["bob@ext.example"], passwords: ["bob@ext.example": "new-pw-bob-3Xv8"], name: "m2")
        XCTAssertEqual(try sweep().accepted, 1)

        func bobsSubjects() throws -> [String] {
            let (key, mailbox) = try XCTUnwrap(try signIn("bob@ext.example", "new-pw-bob-3Xv8"))
            return try index(mailbox).map { e in
                let body = try JSONSerialization.jsonObject(with: Data(try open(key, mailbox, e["id"] as! String, "body"))) as! [String: Any]
                return body["subject"] as! String
            }
        }
        XCTAssertEqual(try bobsSubjects(), ["After the deletion"])
        _ = try reprocessAll()
        XCTAssertEqual(try bobsSubjects(), ["After the deletion"], "reprocess puts no mail from before the deletion into the new mailbox")
        XCTAssertEqual(try signIn("carol@ext.example", "pw-carol-9Zt4w").map { try index($0.1).count }, 1, "Carol keeps hers")

        // A reset reseals the mailbox from the archive: still only the new mail.
        let reset = try RecipientReset(config: config, logger: Logger(label: "test"), loginIterations: iterations)
            .run("bob@ext.example", passwordTo: "alice@corp.example")
        XCTAssertEqual(reset.resealed.rewritten, 1, "only the message after the deletion is resealed")
        XCTAssertEqual(try StateStore(directory: config.state).tombstoneCounts(), ["recipient-deleted": 1])
    }

    func testTheUpgradeRecordsEarlierRemovalsAsTombstones() throws {
        config.sendmail = "/bin/true"
        try deliver(original, to: ["bob@ext.example", "carol@ext.example"],
                    passwords: ["bob@ext.example": "old-pw-bob-7Kq2", "carol@ext.example": "pw-carol-9Zt4w"], name: "m1")
        XCTAssertEqual(try sweep().accepted, 1)
        _ = try RecipientDeletion(config: config, logger: Logger(label: "test")).run("bob@ext.example")
        // An installation of the version before: no tombstones table, a deleted recipient.
        try Shell.check("/usr/bin/python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()",
                                             config.state + "/spoolrun.sqlite",
                                             "DROP TABLE tombstones; DELETE FROM grdb_migrations WHERE identifier = 'v9-tombstones';"])

        let store = try StateStore(directory: config.state)
        XCTAssertEqual(try store.tombstoneCounts(), ["removed-before-upgrade": 1], "Bob's message, which he no longer has")
        let id = try XCTUnwrap(try store.messages(.all).first?.envelopeID)
        XCTAssertEqual(try store.tombstones(envelopeIDs: [id]), [StateStore.tombstoneKey(envelopeID: id, address: "bob@ext.example")],
                       "Carol's delivered copy has none")
    }
}
