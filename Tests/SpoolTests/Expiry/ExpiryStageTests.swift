// Retention and expiry (issue 6): a delivery past portal.retention_days, or past its
// envelope's `expires`, is gone after the next sweep (sealed files, index entry, receipt
// token); a fresh one stays; archive copies go after spool.archive_days.
import Crypto
import Foundation
import Logging
@testable import Spool
import TestSupport
import XCTest
@testable import Tunnel

extension RenderStageTests {
    func sweepWithExpiry(at date: Date) throws -> SweepSummary {
        try Sweep(config: config, logger: Logger(label: "test"), batchStages: [RenderStage(loginIterations: iterations)],
                  sweepStages: [ExpiryStage(), ReceiptStage(), DeliverStage()], clock: { date }).run()
    }

    func deliverExpiring(_ subject: String, expires: Date? = nil, readReceipt: Bool = false, name: String) throws {
        var options = WrapOptions(recipients: ["bob@ext.example"])
        options.passwords = ["bob@ext.example": "pw-bob-expiry"]
        options.expires = expires
        options.readReceipt = readReceipt
        let original = Array("From: Alice <alice@corp.example>\r\nTo: bob@ext.example\r\nSubject: \(subject)\r\n\r\nBody of \(subject)\r\n".utf8)
        try FileSystem.writeAtomically(try Wrapper.wrap(original, config: gateway, options: options), to: config.spool + "/new/" + name)
    }

    /// Subject -> (message id, receipt token) of what Bob's mailbox lists.
    func bobsMessages() throws -> [String: (id: String, receipt: String?)] {
        let (key, mailbox) = try XCTUnwrap(try signIn("bob@ext.example", "pw-bob-expiry"))
        var out: [String: (String, String?)] = [:]
        for e in try index(mailbox) {
            let id = e["id"] as! String
            let body = try JSONSerialization.jsonObject(with: Data(try open(key, mailbox, id, "body"))) as! [String: Any]
            out[body["subject"] as! String] = (id, body["receipt"] as? String)
        }
        return out
    }

    func testAMessagePastItsExpiryOrTheRetentionIsGoneAfterTheNextSweepAndAFreshOneStays() throws {
        config.retentionDays = 1
        config.archiveDays = 3
        config.sendmail = "/bin/true"
        let t0 = Date()
        try deliverExpiring("Kept a day", readReceipt: true, name: "m1")
        try deliverExpiring("Expires soon", expires: t0.addingTimeInterval(120), name: "m2")
        XCTAssertEqual(try sweepWithExpiry(at: t0).accepted, 2)
        let first = try bobsMessages()
        XCTAssertEqual(Set(first.keys), ["Kept a day", "Expires soon"])
        let (_, mailbox) = try XCTUnwrap(try signIn("bob@ext.example", "pw-bob-expiry"))
        let dir = PortalFiles(root: config.www).mailboxPath(mailbox)

        // Ten minutes later: the envelope's `expires` has passed for one of them.
        _ = try sweepWithExpiry(at: t0.addingTimeInterval(600))
        XCTAssertEqual(Set(try bobsMessages().keys), ["Kept a day"], "the expired message left the index")
        XCTAssertFalse(FileSystem.exists(dir + "/" + first["Expires soon"]!.id), "its sealed files are gone")
        XCTAssertTrue(FileSystem.exists(dir + "/" + first["Kept a day"]!.id))

        // Two days later: past the retention of one day; a message arriving then stays.
        try deliverExpiring("Fresh", name: "m3")
        XCTAssertEqual(try sweepWithExpiry(at: t0.addingTimeInterval(2 * 86_400)).accepted, 1)
        XCTAssertEqual(Set(try bobsMessages().keys), ["Fresh"])
        XCTAssertFalse(FileSystem.exists(dir + "/" + first["Kept a day"]!.id))
        let store = try StateStore(directory: config.state)
        XCTAssertEqual(try store.expiredCount(), 2, "each expiry is recorded")
        XCTAssertEqual(try StatusReport.gather(config: config).expired, 2, "status counts it")

        // The expired message's receipt token no longer counts.
        let token = try XCTUnwrap(first["Kept a day"]!.receipt)
        try FileSystem.makeDirectory(config.logs, mode: 0o755)
        try Data("2026-11-27T12:00:00+00:00 /r/\(token)\n".utf8).write(to: URL(fileURLWithPath: config.logs + "/receipts.log"))
        _ = try sweepWithExpiry(at: t0.addingTimeInterval(2 * 86_400 + 60))
        XCTAssertEqual(try store.outbox().filter { $0.kind == .readReceipt }.count, 0, "no receipt for a message that expired")

        // Four days on, the archive copies (archive_days = 3) of the first two are gone too,
        // and reprocess leaves them out.
        let archived = try FileManager.default.contentsOfDirectory(atPath: config.spool + "/archive").count
        _ = try sweepWithExpiry(at: t0.addingTimeInterval(4 * 86_400))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: config.spool + "/archive").count, archived - 2)
        XCTAssertEqual(try store.messages(.all).count, 1, "only the fresh message can be rendered again")
    }

    func testTheArchiveMustBeKeptAtLeastAsLongAsMailboxesAndTheConfigCheckSaysSo() throws {
        var text = try String(contentsOfFile: config.file, encoding: .utf8)
        text += "\n[spool]\narchive_days = 30\n"
        XCTAssertTrue(text.contains("retention_days = 90"), "setup writes the retention")
        text = text.replacingOccurrences(of: "retention_days = 90", with: "retention_days = 60")
        try text.write(toFile: config.file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SpoolrunConfig.load(path: config.file)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("spool.archive_days") && message.contains("portal.retention_days (60)"), message)
        }
    }

    func testARecalledMessageLeavesTheChosenMailboxItsTokenStopsCountingAndTheArchiveCopyStays() throws {
        config.sendmail = "/bin/true"
        var options = WrapOptions(recipients: ["bob@ext.example", "carol@ext.example"])
        options.passwords = ["bob@ext.example": "pw-bob-expiry", "carol@ext.example": "pw-carol-recall"]
        options.readReceipt = true
        let original = Array("From: Alice <alice@corp.example>\r\nTo: bob@ext.example\r\nSubject: Wrong figures\r\n\r\nOops\r\n".utf8)
        try FileSystem.writeAtomically(try Wrapper.wrap(original, config: gateway, options: options), to: config.spool + "/new/m1")
        let t0 = Date()
        XCTAssertEqual(try sweepWithExpiry(at: t0).accepted, 1)
        let bobs = try XCTUnwrap(try bobsMessages()["Wrong figures"])
        let (carolKey, carolsMailbox) = try XCTUnwrap(try signIn("carol@ext.example", "pw-carol-recall"))
        let carolsID = try XCTUnwrap(try index(carolsMailbox).first?["id"] as? String)
        let carolsBody = try JSONSerialization.jsonObject(with: Data(try open(carolKey, carolsMailbox, carolsID, "body"))) as! [String: Any]
        let store = try StateStore(directory: config.state)
        let envelopeID = try XCTUnwrap(try store.messages(.all).first?.envelopeID)

        let removed = try Recall(config: config, logger: Logger(label: "test"), clock: { t0.addingTimeInterval(60) })
            .run(envelopeID: envelopeID, recipient: "Bob@Ext.example")
        XCTAssertEqual(removed, ["bob@ext.example"])
        XCTAssertTrue(try bobsMessages().isEmpty, "gone from Bob's index")
        let (_, bobsMailbox) = try XCTUnwrap(try signIn("bob@ext.example", "pw-bob-expiry"))
        XCTAssertFalse(FileSystem.exists(PortalFiles(root: config.www).mailboxPath(bobsMailbox) + "/" + bobs.id), "and its files")
        XCTAssertEqual(try index(carolsMailbox).count, 1, "Carol's copy stays")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: config.spool + "/archive").count, 1, "the archive copy stays")
        XCTAssertEqual(try store.recalledCount(), 1, "the recall is recorded")
        XCTAssertEqual(try store.expiredCount(), 0, "a recall is not an expiry")

        // Both open the message now: only Carol's read counts.
        try FileSystem.makeDirectory(config.logs, mode: 0o755)
        let lines = [bobs.receipt, carolsBody["receipt"] as? String].map { "2026-11-27T12:00:00+00:00 /r/\($0 ?? "")\n" }.joined()
        try Data(lines.utf8).write(to: URL(fileURLWithPath: config.logs + "/receipts.log"))
        _ = try sweepWithExpiry(at: t0.addingTimeInterval(120))
        let receipts = try store.outbox().filter { $0.kind == .readReceipt }
        XCTAssertEqual(receipts.count, 1)
        let text = String(decoding: try OutboxKey.loadOrCreate(path: config.outboxKey).message(of: receipts[0]), as: UTF8.self)
        XCTAssertTrue(text.contains("carol@ext.example") && !text.contains("bob@ext.example"), text)

        XCTAssertThrowsError(try Recall(config: config, logger: Logger(label: "test")).run(envelopeID: envelopeID, recipient: "bob@ext.example")) {
            XCTAssertTrue("\($0)".contains("has no delivered copy in the mailbox of bob@ext.example"), "\($0)")
        }
    }

    func testAMessageOverQuotaIsHeldWithItsReasonTheSenderIsToldAndAfterTheQuotaIsRaisedReprocessHeldDeliversIt() throws {
        config.quotaMB = 1
        try deliverExpiring("Small", name: "m1")
        XCTAssertEqual(try sweep().accepted, 1)
        var rng = SeededGenerator(seed: 11)
        let big = (0..<1_200_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var options = WrapOptions(recipients: ["bob@ext.example"])
        let original = Array(("From: Alice <alice@corp.example>\r\nTo: bob@ext.example\r\nSubject: Big\r\nMIME-Version: 1.0\r\n"
            + "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + Data(big).base64EncodedString(options: .lineLength76Characters) + "\r\n").utf8)
        options.passwords = [:]
        try FileSystem.writeAtomically(try Wrapper.wrap(original, config: gateway, options: options), to: config.spool + "/new/m2")
        let summary = try sweep()
        XCTAssertEqual(summary.held, 1)
        XCTAssertEqual(summary.accepted, 0)
        let held = config.spool + "/held/m2"
        XCTAssertTrue(FileSystem.exists(held), "the tunnel file is kept in spool/held")
        let reason = try String(contentsOfFile: held + ".reason", encoding: .utf8)
        XCTAssertTrue(reason.hasPrefix("over-quota\n") && reason.contains("bob@ext.example"), reason)
        XCTAssertEqual(Set(try bobsMessages().keys), ["Small"], "not in the mailbox")
        let store = try StateStore(directory: config.state)
        let notice = try XCTUnwrap(try store.queuedOutbox().first { $0.kind == .heldNotice })
        XCTAssertEqual(notice.recipient, "alice@corp.example", "the sender is told")
        XCTAssertEqual(try sweep().held, 0, "nothing is held twice")
        XCTAssertEqual(try store.queuedOutbox().filter { $0.kind == .heldNotice }.count, 1)

        config.quotaMB = 10
        XCTAssertEqual(try HeldMessages(config: config).release(), 1)
        XCTAssertEqual(try sweep().accepted, 1)
        XCTAssertEqual(Set(try bobsMessages().keys), ["Small", "Big"], "delivered once the quota allows it")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: config.spool + "/held"), [], "nothing left in spool/held")
    }
}
