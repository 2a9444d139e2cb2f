// `spoolrun recipient list`: address, creation date, last read, message count and bytes.
import Foundation
import Logging
@testable import Spool
import TestSupport
import XCTest

extension RenderStageTests {
    func testRecipientListShowsEachMailboxWithItsMessagesBytesAndLastSignIn() throws {
        try deliver(original, to: ["bob@ext.example", "carol@ext.example"],
                    passwords: ["bob@ext.example": "pw-bob-list-1", "carol@ext.example": "pw-carol-list"], name: "m1")
        try deliver(original, to: ["bob@ext.example"], name: "m2")
        XCTAssertEqual(try sweep().accepted, 2)
        let (_, bobsMailbox) = try XCTUnwrap(try signIn("bob@ext.example", "pw-bob-list-1"))
        // nginx's access log, as the generated nginx.conf writes it: Bob signed in twice (the
        // later one revalidated), a fetch that failed and another path do not count.
        try FileSystem.makeDirectory(config.logs, mode: 0o755)
        try Data("""
            127.0.0.1 [2026-11-25T09:00:00+00:00] "GET /m/\(bobsMailbox)/index.json HTTP/1.1" 200 812
            127.0.0.1 [2026-11-25T10:30:00+01:00] "GET /m/\(bobsMailbox)/index.json HTTP/1.1" 304 0
            127.0.0.1 [2026-11-26T08:00:00+00:00] "GET /m/\(bobsMailbox)/index.json HTTP/1.1" 404 0
            127.0.0.1 [2026-11-26T09:00:00+00:00] "GET /m/\(bobsMailbox)/abc/body?r=1 HTTP/1.1" 200 99
            garbage line

            """.utf8).write(to: URL(fileURLWithPath: config.logs + "/access.log"))

        let admin = RecipientAdmin(config: config)
        let rows = try admin.summaries()
        XCTAssertEqual(rows.map(\.address), ["bob@ext.example", "carol@ext.example"])
        XCTAssertEqual(rows.map(\.messages), [2, 1])
        XCTAssertEqual(rows[0].bytes, 2 * original.count)
        XCTAssertEqual(rows[1].bytes, original.count)
        XCTAssertEqual(rows[0].lastRead, "2026-11-25T09:30:00Z", "the latest successful index fetch, in UTC")
        XCTAssertNil(rows[1].lastRead, "Carol never signed in")
        let json = try JSONSerialization.jsonObject(with: Data(try admin.list(json: true).utf8)) as! [[String: Any]]
        XCTAssertEqual(Set(json[0].keys), ["address", "created", "last_read", "messages", "bytes"])
        let text = try admin.list(json: false)
        XCTAssertTrue(text.contains("carol@ext.example") && text.contains("never"), text)
    }

    func testAfterAResetTheOldPasswordFailsAndTheNewOneOpensEveryEarlierMessage() throws {
        try deliver(original, to: ["bob@ext.example"], passwords: ["bob@ext.example": "pw-bob-old-pw1"], name: "m1")
        let second = Array(String(decoding: original, as: UTF8.self).replacingOccurrences(of: "MARKER-SUBJECT-4K8 merger", with: "Second").utf8)
        try deliver(second, to: ["bob@ext.example"], name: "m2")
        XCTAssertEqual(try sweep().accepted, 2)
        let (_, mailbox) = try XCTUnwrap(try signIn("bob@ext.example", "pw-bob-old-pw1"))

        let outcome = try RecipientReset(config: config, logger: Logger(label: "test"), loginIterations: iterations)
            .run("Bob@Ext.example", passwordTo: "helpdesk@corp.example")
        XCTAssertEqual(outcome.notified, "helpdesk@corp.example")
        XCTAssertEqual(outcome.resealed.rewritten, 2, "both messages sealed again")
        XCTAssertEqual(outcome.oldBundlesRemoved, 1)

        XCTAssertNil(try signIn("bob@ext.example", "pw-bob-old-pw1"), "the old password opens nothing")
        let store = try StateStore(directory: config.state)
        let notice = try XCTUnwrap(try store.queuedOutbox().first { $0.kind == .passwordNotice && $0.recipient == "helpdesk@corp.example" })
        let text = String(decoding: try OutboxKey.loadOrCreate(path: config.outboxKey).message(of: notice), as: UTF8.self)
        let password = try XCTUnwrap(PasswordFinder.first(in: text), "the notice carries the new password")
        let (key, sameMailbox) = try XCTUnwrap(try signIn("bob@ext.example", password))
        XCTAssertEqual(sameMailbox, mailbox, "the mailbox stays")
        let subjects = try index(mailbox).map { e -> String in
            let id = e["id"] as! String
            let body = try JSONSerialization.jsonObject(with: Data(try open(key, mailbox, id, "body"))) as! [String: Any]
            XCTAssertEqual(try open(key, mailbox, id, "eml").count > 0, true)
            return body["subject"] as! String
        }
        XCTAssertEqual(Set(subjects), ["MARKER-SUBJECT-4K8 merger", "Second"], "the new password opens every earlier message")
        XCTAssertFalse(try String(contentsOfFile: config.state + "/spoolrun.sqlite", encoding: .isoLatin1).contains(password),
                       "the new password is not in the state store in clear")
    }

    func testADeletedRecipientLeavesNoMailboxNoKeyBundleAndNoStateAndReprocessDoesNotBringThemBack() throws {
        try deliver(original, to: ["bob@ext.example", "carol@ext.example"],
                    passwords: ["bob@ext.example": "pw-bob-del-pw1", "carol@ext.example": "pw-carol-del"], name: "m1")
        XCTAssertEqual(try sweep().accepted, 1)
        let (_, mailbox) = try XCTUnwrap(try signIn("bob@ext.example", "pw-bob-del-pw1"))
        XCTAssertEqual(try RecipientDeletion(config: config, logger: Logger(label: "test")).run("bob@ext.example"), 1)
        XCTAssertNil(try signIn("bob@ext.example", "pw-bob-del-pw1"), "no key bundle")
        XCTAssertFalse(FileSystem.exists(PortalFiles(root: config.www).mailboxPath(mailbox)), "no mailbox")
        XCTAssertEqual(try RecipientAdmin(config: config).summaries().map(\.address), ["carol@ext.example"], "no state")
        _ = try Reprocess(config: config, logger: Logger(label: "test"), loginIterations: iterations).run(ReprocessOptions(selection: .all))
        XCTAssertFalse(FileSystem.exists(PortalFiles(root: config.www).mailboxPath(mailbox)), "reprocess does not recreate it")
        XCTAssertNotNil(try signIn("carol@ext.example", "pw-carol-del"), "Carol keeps hers")
        XCTAssertThrowsError(try RecipientDeletion(config: config, logger: Logger(label: "test")).run("bob@ext.example"))
    }

    func testReprocessSinceSelectsTheMessagesReceivedAtOrAfterTheDate() throws {
        let t0 = Date()
        try deliver(original, to: ["bob@ext.example"], passwords: ["bob@ext.example": "pw-bob-since"], name: "m1")
        XCTAssertEqual(try sweep(at: t0).accepted, 1)
        try deliver(original, to: ["bob@ext.example"], name: "m2")
        XCTAssertEqual(try sweep(at: t0.addingTimeInterval(60)).accepted, 1)
        let store = try StateStore(directory: config.state)
        XCTAssertEqual(try store.messages(.since(t0.addingTimeInterval(30))).map(\.spoolName), ["m2"])
        XCTAssertEqual(try store.messages(.since(t0)).map(\.spoolName), ["m1", "m2"], "at the instant itself counts")
        XCTAssertEqual(ReprocessSelection.date("2026-11-25")?.timeIntervalSince1970, 1_795_564_800, "a day is its midnight, UTC")
        XCTAssertEqual(ReprocessSelection.date("2026-11-25T10:00:00+01:00")?.timeIntervalSince1970, 1_795_597_200)
        XCTAssertNil(ReprocessSelection.date("25.11.2026"))
    }
}
