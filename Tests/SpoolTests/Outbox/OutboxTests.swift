// The outbox holds what must be mailed, durably and without a password in clear.
import Crypto
import Foundation
@testable import Spool
import TestSupport
import XCTest

final class OutboxTests: XCTestCase {
    func testAnOutboxMessageIsStoredSealedAndOpensWithTheOutboxKeyOnly() throws {
        let dir = try TemporaryDirectory()
        let key = try OutboxKey.loadOrCreate(path: dir.file("keys/outbox.key"))
        try FileSystem.makeDirectory(dir.file("state"), mode: 0o700)
        let store = try StateStore(directory: dir.file("state"))
        let password = "k7mq2-xw9fa-3hpte-uc48n"
        let message = Array("Subject: Portal password\n\nThe password is \(password)\n".utf8)
        let uid = OutboxEntry.uid(.passwordNotice, cause: "env-0001", recipient: "bob@ext.example")
        let entry = try key.entry(.passwordNotice, uid: uid, message: message, envelopeID: "env-0001",
                                  mailFrom: "portal@portal.example", to: "alice@corp.example",
                                  now: Date(timeIntervalSince1970: 1_800_000_000))
        var writes = BatchWrites()
        writes.outbox = [entry]
        try store.record(accepted: [], rejected: [], writes: writes)

        let queued = try store.queuedOutbox()
        XCTAssertEqual(queued.map(\.uid), [entry.uid])
        XCTAssertEqual(queued[0].recipient, "alice@corp.example")
        XCTAssertEqual(queued[0].sealed, entry.sealed)
        XCTAssertEqual(try key.message(of: queued[0]), message)
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.file("state")) {
            let data = FileManager.default.contents(atPath: dir.file("state/\(file)")) ?? Data()
            XCTAssertNil(data.range(of: Data(password.utf8)), "\(file) holds the password in clear")
        }

        let otherKey = try OutboxKey.loadOrCreate(path: dir.file("other/outbox.key"))
        XCTAssertThrowsError(try otherKey.message(of: queued[0]))
        var swapped = queued[0]
        swapped.uid = "another-row"
        XCTAssertThrowsError(try key.message(of: swapped), "a payload is bound to its row")
    }

    func testALargeMailIsKeptSealedInAFileOfItsOwnQueuedOnceAndSentFromIt() throws {
        let dir = try TemporaryDirectory()
        let key = try OutboxKey.loadOrCreate(path: dir.file("keys/outbox.key"))
        try FileSystem.makeDirectory(dir.file("state"), mode: 0o700)
        let store = try StateStore(directory: dir.file("state"))
        let marker = "MARKER-LARGE-PDF-MAIL"
        let uid = OutboxEntry.uid(.otpPDF, cause: "env-9", recipient: "bob@ext.example")
        func message(_ n: Int) -> [UInt8] {
            Array("Subject: \(marker) \(n)\n\n".utf8) + [UInt8](repeating: UInt8(ascii: "A"), count: StateStore.largePayload + 10)
        }
        for n in 0..<2 {
            var writes = BatchWrites()
            writes.outbox = [try key.entry(.otpPDF, uid: uid, message: message(n), envelopeID: "env-9",
                                           mailFrom: "p@portal.example", to: "bob@ext.example", now: Date())]
            try store.record(accepted: [], rejected: [], writes: writes)
        }
        let file = dir.file("state/outbox/\(uid).sealed")
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let stored = try XCTUnwrap(FileManager.default.contents(atPath: file))
        XCTAssertNil(stored.range(of: Data(marker.utf8)), "the file is sealed")
        let database = try XCTUnwrap(FileManager.default.contents(atPath: dir.file("state/spoolrun.sqlite")))
        XCTAssertLessThan(database.count, StateStore.largePayload, "the payload is not in the database too")

        let due = try store.dueOutbox(now: Date().addingTimeInterval(1))
        XCTAssertEqual(due.map(\.uid), [uid])
        XCTAssertTrue(due[0].sealed.isEmpty, "the due list carries no payloads")
        XCTAssertEqual(try key.message(of: due[0], sealed: try store.sealedPayload(of: due[0])), message(0),
                       "the first mail queued is the one kept, whole")
        XCTAssertEqual(try store.outboxEntry(id: uid).map { try store.sealedPayload(of: $0) }, [UInt8](stored))
    }

    func testTheSameMailQueuedTwiceIsStoredOnce() throws {
        let dir = try TemporaryDirectory()
        let key = try OutboxKey.loadOrCreate(path: dir.file("keys/outbox.key"))
        try FileSystem.makeDirectory(dir.file("state"), mode: 0o700)
        let store = try StateStore(directory: dir.file("state"))
        let uid = OutboxEntry.uid(.notification, cause: "env-1", recipient: "bob@ext.example")
        XCTAssertEqual(uid, OutboxEntry.uid(.notification, cause: "env-1", recipient: "bob@ext.example"))
        XCTAssertNotEqual(uid, OutboxEntry.uid(.notification, cause: "env-1", recipient: "carol@ext.example"))
        XCTAssertNotEqual(uid, OutboxEntry.uid(.notification, cause: "env-1", recipient: "bob@ext.example", round: 1))
        for n in 0..<3 {
            var writes = BatchWrites()
            writes.outbox = [try key.entry(.notification, uid: uid, message: Array("try \(n)".utf8), envelopeID: "env-1",
                                           mailFrom: "p@portal.example", to: "bob@ext.example", now: Date())]
            try store.record(accepted: [], rejected: [], writes: writes)
        }
        let queued = try store.queuedOutbox()
        XCTAssertEqual(queued.count, 1)
        XCTAssertEqual(try key.message(of: queued[0]), Array("try 0".utf8), "the first one stays")
    }

    func testOutboxKeyIsMadeOnceWithMode0600AndRefusedWhenOthersCanReadIt() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("keys/outbox.key")
        let first = try OutboxKey.loadOrCreate(path: path)
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertEqual(try OutboxKey.loadOrCreate(path: path).key, first.key, "the key is made once")
        XCTAssertEqual(chmod(path, 0o644), 0)
        XCTAssertThrowsError(try OutboxKey.loadOrCreate(path: path)) { error in
            XCTAssertTrue("\(error)".contains(path), "\(error)")
        }
    }

    func testSetupMakesTheOutboxKeyAndTheConfigNamesIt() throws {
        let dir = try TemporaryDirectory()
        let inst = try Setup.run(SetupOptions(directory: dir.file("inst")))
        let config = try SpoolrunConfig.load(path: inst.config)
        XCTAssertEqual(config.outboxKey, inst.path("keys/outbox.key"))
        XCTAssertNoThrow(try OutboxKey.loadOrCreate(path: config.outboxKey))
    }
}
