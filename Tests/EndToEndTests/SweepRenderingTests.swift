// `spoolrun run` renders what it accepts into sealed mailboxes under www/, and nothing it
// writes there is readable without a recipient's password.
import Foundation
import TestSupport
import XCTest

final class SweepRenderingTests: XCTestCase {
    func testSweepWritesSealedMailboxesWithNoPlaintextUnderWWW() throws {
        let inst = try TestInstallation()
        let original = Data("""
            From: Alice <alice@corp.test>\r
            To: Bob <bob@ext.test>\r
            Subject: MARKER-SUBJ-88 acquisition\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            MARKER-BODY-77 the price is confidential\r

            """.utf8)
        try inst.deliver(try inst.wrap(original, arguments: ["--to", "bob@ext.test", "carol@ext.test",
                                                             "--password", "bob@ext.test=MARKER-PW-66"]), name: "m1")
        let run = try inst.sweep()
        XCTAssertEqual(run.status, 0, run.err)
        let www = inst.root.appending(path: "www")
        let files = FileManager.default.enumerator(atPath: www)!.compactMap { $0 as? String }
        XCTAssertTrue(files.contains("portal.json"))
        XCTAssertEqual(files.filter { $0.hasPrefix("k/") && $0.hasSuffix(".json") }.count, 2, "one key bundle per recipient")
        XCTAssertEqual(files.filter { $0.hasPrefix("m/") && $0.hasSuffix("/index.json") }.count, 2, "one mailbox per recipient")
        XCTAssertEqual(files.filter { $0.hasSuffix("/body") }.count, 2)
        for file in files {
            guard let data = FileManager.default.contents(atPath: www.appending(path: file)) else { continue }
            for marker in ["MARKER-SUBJ", "MARKER-BODY", "MARKER-PW", "bob@", "carol@", "alice@", "acquisition"] {
                XCTAssertNil(data.range(of: Data(marker.utf8)), "www/\(file) contains \(marker)")
            }
        }
        for secret in ["MARKER-SUBJ", "MARKER-BODY", "MARKER-PW"] {
            XCTAssertFalse(run.err.contains(secret), "the log contains \(secret)")
        }
    }
}
