// How the state store opens its database: durable commits and a bounded page cache on every
// connection (readers too), so a sweep's memory does not grow with the cache (make bench).
import Foundation
import GRDB
@testable import Spool
import TestSupport
import XCTest

final class StateStoreSettingsTests: XCTestCase {
    func testEveryConnectionCommitsDurablyAndKeepsAQuarterMebibytePageCache() throws {
        let dir = try TemporaryDirectory()
        let store = try StateStore(directory: dir.path)
        let writer = try store.pool.write { db in
            (try Int.fetchOne(db, sql: "PRAGMA cache_size"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
        }
        let reader = try store.pool.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA cache_size"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
        }
        for (cache, synchronous) in [writer, reader] {
            XCTAssertEqual(cache, -256, "negative: a size in KiB")
            XCTAssertEqual(synchronous, 2, "FULL (writer \(writer), reader \(reader))")
        }
    }
}
