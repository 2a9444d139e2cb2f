// The outbox holds what must be mailed, durably and without a password in clear.
import Crypto
import Foundation
@testable import Spool
import TestSupport
import XCTest

final class OutboxTests: XCTestCase {
    func testPasswordNoticeIsStoredSealedAndOpensWithTheOutboxKeyOnly() throws {
        let dir = try TemporaryDirectory()
        let key = try OutboxKey.loadOrCreate(path: dir.file("keys/outbox.key"))
        try FileSystem.makeDirectory(dir.file("state"), mode: 0o700)
        let store = try StateStore(directory: dir.file("state"))
        let notice = PasswordNotice(recipient: "bob@ext.example", password: "k7mq2-xw9fa-3hpte-uc48n", envelopeID: "env-0001")
        let entry = try key.passwordNotice(notice, mailFrom: "portal@portal.example", to: "alice@corp.example",
                                           now: Date(timeIntervalSince1970: 1_800_000_000))
        var writes = BatchWrites()
        writes.outbox = [entry]
        try store.record(accepted: [], rejected: [], writes: writes)

        let queued = try store.queuedOutbox()
        XCTAssertEqual(queued, [entry])
        XCTAssertEqual(queued[0].recipient, "alice@corp.example", "the notice goes to the envelope's sender")
        XCTAssertEqual(try key.openPasswordNotice(queued[0]), notice)
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.file("state")) {
            let data = FileManager.default.contents(atPath: dir.file("state/\(file)")) ?? Data()
            XCTAssertNil(data.range(of: Data(notice.password.utf8)), "\(file) holds the password in clear")
        }

        let otherKey = try OutboxKey.loadOrCreate(path: dir.file("other/outbox.key"))
        XCTAssertThrowsError(try otherKey.openPasswordNotice(queued[0]))
        var swapped = queued[0]
        swapped.uid = "another-row"
        XCTAssertThrowsError(try key.openPasswordNotice(swapped), "a payload is bound to its row")
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
