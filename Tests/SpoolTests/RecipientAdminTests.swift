// `spoolrun recipient list`: address, creation date, last read, message count and bytes.
import Foundation
@testable import Spool
import TestSupport
import XCTest

extension RenderStageTests {
    func testRecipientListShowsEachMailboxWithItsMessagesBytesAndLastSignIn() throws {
        try deliver(original, to: ["bob@ext.example", "carol@ext.example"],
                    passwords: ["bob@ext.example": "pw-bob-list", "carol@ext.example": "pw-carol-list"], name: "m1")
        try deliver(original, to: ["bob@ext.example"], name: "m2")
        XCTAssertEqual(try sweep().accepted, 2)
        let (_, bobsMailbox) = try XCTUnwrap(try signIn("bob@ext.example", "pw-bob-list"))
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
}
