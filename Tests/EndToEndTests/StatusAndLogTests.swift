// What an administrator sees: `spoolrun status` and the sweep's log.
import Foundation
import TestSupport
import XCTest

final class StatusAndLogTests: XCTestCase {
    func testStatusCountsEachStateAndReportsTheLastSweep() throws {
        let inst = try TestInstallation()
        try inst.deliver(try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test"]), name: "good")
        try inst.deliver(Data("From: \(TestInstallation.senderAddress)\r\nTo: \(TestInstallation.recipientAddress)\r\n\r\nplain\r\n".utf8),
                         name: "plain")
        var s = try inst.status()
        XCTAssertEqual(s["waiting"] as? Int, 2)
        XCTAssertNil(s["last_sweep"] as? [String: Any], "no sweep has run yet")

        XCTAssertEqual(try inst.sweep().status, 0)
        try inst.deliver(try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test"]), name: "later")
        s = try inst.status()
        XCTAssertEqual(s["accepted"] as? Int, 1)
        XCTAssertEqual(s["failed"] as? [String: Int], ["not-encrypted": 1])
        XCTAssertEqual(s["failed_total"] as? Int, 1)
        XCTAssertEqual(s["waiting"] as? Int, 1)
        let last = try XCTUnwrap(s["last_sweep"] as? [String: Any])
        XCTAssertEqual(last["result"] as? String, "ok")
        XCTAssertEqual(last["accepted"] as? Int, 1)
        XCTAssertEqual(last["rejected"] as? Int, 1)
        XCTAssertNotNil(last["duration_ms"] as? Int)
        XCTAssertNotNil(last["started_at"] as? String)

        let text = try Shell.check(Paths.spoolrun, ["status", "--config", inst.config]).out
        XCTAssertTrue(text.contains("accepted: 1") && text.contains("not-encrypted: 1") && text.contains("last sweep:"), text)
    }

    func testSweepLogsOneLinePerMessageWithIdAndResultAndNeverContent() throws {
        let inst = try TestInstallation()
        let secretSubject = "Merger plans Zebra-Omega"
        let secretBody = "The price is 4711 per share"
        let original = Data("From: alice@corp.test\r\nTo: bob@ext.test\r\nSubject: \(secretSubject)\r\n\r\n\(secretBody)\r\n".utf8)
        let password = "Tr0ub4dor-and-3"
        try inst.deliver(try inst.wrap(original, arguments: ["--to", "bob@ext.test", "--password", "bob@ext.test=\(password)"]),
                         name: "good")
        try inst.deliver(Data(), name: "empty")
        let run = try inst.sweep()
        XCTAssertEqual(run.status, 0)
        let lines = run.err.split(separator: "\n").map(String.init)
        let good = lines.filter { $0.contains("file=good") }
        let bad = lines.filter { $0.contains("file=empty") }
        XCTAssertEqual(good.count, 1, run.err)
        XCTAssertEqual(bad.count, 1, run.err)
        XCTAssertTrue(good[0].contains("accepted") && good[0].contains("id="), good[0])
        XCTAssertTrue(bad[0].contains("quarantined") && bad[0].contains("reason=malformed-mime"), bad[0])
        for secret in [secretSubject, secretBody, password, "alice@corp.test"] {
            XCTAssertFalse(run.err.contains(secret), "the log must not contain \(secret)")
        }
    }

    func testStateStoreHoldsNoPasswordAndNoContent() throws {
        let inst = try TestInstallation()
        let password = "Correct-Horse-Battery-9"
        let original = Data("From: alice@corp.test\r\nTo: bob@ext.test\r\nSubject: Secret subject line\r\n\r\nSecret body text\r\n".utf8)
        try inst.deliver(try inst.wrap(original, arguments: ["--to", "bob@ext.test", "--password", "bob@ext.test=\(password)"]),
                         name: "good")
        XCTAssertEqual(try inst.sweep().status, 0)
        let state = inst.root.appending(path: "state")
        for file in try FileManager.default.contentsOfDirectory(atPath: state) {
            guard let data = FileManager.default.contents(atPath: state.appending(path: file)) else { continue }
            for secret in [password, "Secret subject line", "Secret body text"] {
                XCTAssertNil(data.range(of: Data(secret.utf8)), "\(file) contains \(secret)")
            }
        }
    }
}
