// Monitoring through the built binary: `spoolrun run` with `metrics.textfile` set writes a
// file that prometheus_client's parser reads, with the values of the sweep's known results;
// `spoolrun status --json` shows the same figures; the file is replaced whole, readable by
// node_exporter under systemd's UMask=0077; and a metrics path that cannot be written loses
// no mail and leaves the exit status at 0 (monitoring must not stop delivery: the error is
// logged with the path, and the stale figures show it).
import Foundation
import TestSupport
import XCTest

final class MetricsEndToEndTests: XCTestCase {
    var inst: TestInstallation!
    var textfileDir: String { inst.scratch.file("node-exporter") }
    var metricsPath: String { textfileDir.appending(path: "spoolrun.prom") }
    var calls: String { inst.scratch.file("calls.log") }

    override func setUpWithError() throws {
        inst = try TestInstallation()
        try FileManager.default.createDirectory(atPath: textfileDir, withIntermediateDirectories: true)
        try setMetricsTextfile(metricsPath)
        try inst.setConfig("sendmail", "\"\(try command("ok.sh", "cat > /dev/null\nexit 0"))\"")
    }

    func setMetricsTextfile(_ path: String) throws {
        var text = try String(contentsOfFile: inst.config, encoding: .utf8)
        if let range = text.range(of: "\n[metrics]\n") { text = String(text[..<range.lowerBound]) }
        text += "\n[metrics]\ntextfile = \"\(path)\"\n"
        try text.write(toFile: inst.config, atomically: true, encoding: .utf8)
    }

    /// A sendmail stand-in that logs each run.
    func command(_ name: String, _ body: String) throws -> String {
        let path = inst.scratch.file(name)
        let text = "#!/bin/sh\necho call >> \(calls)\n\(body)\n"
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o755])
        return path
    }

    var callCount: Int { ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").count }

    func deliverGood(_ name: String, to recipients: [String]) throws {
        var args: [String] = []
        for r in recipients { args += ["--to", r, "--password", "\(r)=Pass-word-for-\(r)-42"] }
        try inst.deliver(try inst.wrap(TestInstallation.sampleOriginal, arguments: args), name: name)
    }

    func deliverBad() throws {
        try inst.deliver(Data("From: \(TestInstallation.senderAddress)\r\nTo: \(TestInstallation.recipientAddress)\r\n\r\nplain\r\n".utf8),
                         name: "plain")
        try inst.deliver(Data(), name: "empty")
    }

    func metrics() throws -> [PrometheusText.Family] {
        try PrometheusText.parse(try String(contentsOfFile: metricsPath, encoding: .utf8))
    }

    func value(_ m: [PrometheusText.Family], _ name: String, _ labels: [String: String] = [:],
               file: StaticString = #filePath, line: UInt = #line) throws -> Double {
        try XCTUnwrap(PrometheusText.value(m, name, labels), "no single sample \(name) \(labels)", file: file, line: line)
    }

    /// `spoolrun run` under systemd's UMask=0077, as the service unit runs it.
    func sweepUnderServiceUmask() throws -> ProcessResult {
        try Shell.run("/bin/sh", ["-c", "umask 077 && exec \"$0\" run --config \"$1\"", Paths.spoolrun, inst.config], timeout: 120)
    }

    func testSweepWritesMetricsThatPrometheusParsesWithTheSweepsResultsAndStatusShowsTheSame() throws {
        try deliverGood("one", to: ["bob@ext.test"])
        try deliverGood("two", to: ["bob@ext.test", "carol@ext.test"])
        try deliverBad()
        let run = try inst.sweep()
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertEqual(callCount, 3, "one notification per message and recipient")

        let m = try metrics()
        XCTAssertEqual(try value(m, "spoolrun_messages_accepted_total"), 2)
        XCTAssertEqual(try value(m, "spoolrun_messages_failed_total", ["reason": "not-encrypted"]), 1)
        XCTAssertEqual(try value(m, "spoolrun_messages_failed_total", ["reason": "malformed-mime"]), 1)
        XCTAssertEqual(try value(m, "spoolrun_messages_failed_total", ["reason": "signature-invalid"]), 0)
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "sent"]), 3)
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "queued"]), 0)
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "failed"]), 0)
        XCTAssertEqual(try value(m, "spoolrun_outbox_oldest_queued_age_seconds"), 0)
        XCTAssertEqual(try value(m, "spoolrun_held_messages"), 0)
        XCTAssertEqual(try value(m, "spoolrun_spool_waiting_messages"), 0)
        XCTAssertEqual(try value(m, "spoolrun_last_sweep_success"), 1)
        XCTAssertEqual(try value(m, "spoolrun_mailboxes"), 2)
        XCTAssertEqual(try value(m, "spoolrun_mailboxes_bytes"), Double(3 * TestInstallation.sampleOriginal.count),
                       "the original, once per recipient")
        let finished = try value(m, "spoolrun_last_successful_sweep_timestamp_seconds")
        XCTAssertLessThanOrEqual(abs(finished - Date().timeIntervalSince1970), 120, "finished just now")

        let s = try inst.status()
        XCTAssertEqual(Double(try XCTUnwrap(s["accepted"] as? Int)), try value(m, "spoolrun_messages_accepted_total"))
        XCTAssertEqual(s["failed"] as? [String: Int], ["not-encrypted": 1, "malformed-mime": 1])
        let outbox = try XCTUnwrap(s["outbox"] as? [String: Any])
        for state in ["queued", "sent", "failed"] {
            XCTAssertEqual(Double(try XCTUnwrap(outbox[state] as? Int)), try value(m, "spoolrun_outbox_messages", ["state": state]))
        }
        XCTAssertEqual((outbox["oldest_queued_age_seconds"] as? NSNumber)?.doubleValue, 0)
        XCTAssertEqual(s["held"] as? Int, 0)
        XCTAssertEqual(s["waiting"] as? Int, 0)
        XCTAssertEqual(s["mailboxes"] as? Int, 2)
        XCTAssertEqual(Double(try XCTUnwrap(s["mailbox_bytes"] as? Int)), try value(m, "spoolrun_mailboxes_bytes"))
        XCTAssertEqual((s["last_successful_sweep_timestamp"] as? NSNumber)?.doubleValue, finished)
        let last = try XCTUnwrap(s["last_sweep"] as? [String: Any])
        XCTAssertEqual(Double(try XCTUnwrap(last["duration_ms"] as? Int)) / 1000, try value(m, "spoolrun_last_sweep_duration_seconds"))
    }

    func testQueuedMailAgeInMetricsAndStatusGrowsFromTheSameQueueTime() throws {
        try inst.setConfig("sendmail", "\"\(try command("fail.sh", "cat > /dev/null\nexit 75"))\"")
        try deliverGood("one", to: ["bob@ext.test"])
        let before = Date()
        XCTAssertEqual(try inst.sweep().status, 0)
        let m = try metrics()
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "queued"]), 1)
        let metricAge = try value(m, "spoolrun_outbox_oldest_queued_age_seconds")
        XCTAssertTrue((0...60).contains(metricAge), "\(metricAge)")
        sleep(1)
        let s = try inst.status()
        let outbox = try XCTUnwrap(s["outbox"] as? [String: Any])
        XCTAssertEqual(outbox["queued"] as? Int, 1)
        let statusAge = try XCTUnwrap((outbox["oldest_queued_age_seconds"] as? NSNumber)?.doubleValue)
        // The same queue time, measured later: older by the time between the two readings.
        XCTAssertGreaterThanOrEqual(statusAge, metricAge + 1)
        XCTAssertLessThanOrEqual(statusAge, metricAge + Date().timeIntervalSince(before) + 0.002)
    }

    func testMetricsFileIsReplacedWholeReadableByOthersWithNoTemporaryFileLeft() throws {
        let first = try sweepUnderServiceUmask()
        XCTAssertEqual(first.status, 0, first.err)
        var a = stat()
        XCTAssertEqual(stat(metricsPath, &a), 0)
        XCTAssertEqual(a.st_mode & 0o777, 0o644, "node_exporter must read it, whatever the service's umask")
        try deliverGood("one", to: ["bob@ext.test"])
        XCTAssertEqual(try sweepUnderServiceUmask().status, 0)
        var b = stat()
        XCTAssertEqual(stat(metricsPath, &b), 0)
        XCTAssertNotEqual(a.st_ino, b.st_ino, "renamed into place, never rewritten in place")
        XCTAssertEqual(b.st_mode & 0o777, 0o644)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: textfileDir), ["spoolrun.prom"])
        let text = try String(contentsOfFile: metricsPath, encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("\n") && text.contains("# TYPE spoolrun_mailboxes_bytes gauge\nspoolrun_mailboxes_bytes "), text)
        XCTAssertEqual(try value(try metrics(), "spoolrun_messages_accepted_total"), 1)
    }

    func testAnUnwritableMetricsPathLosesNoMailAndKeepsExitStatusZero() throws {
        // A folder that cannot exist: its parent is a regular file.
        let bad = inst.config.appending(path: "spoolrun.prom")
        try setMetricsTextfile(bad)
        try deliverGood("one", to: ["bob@ext.test"])
        let run = try inst.sweep()
        XCTAssertEqual(run.status, 0, "the sweep's own result stands: \(run.err)")
        XCTAssertEqual(inst.names(in: "archive"), ["one"])
        XCTAssertEqual(inst.names(in: "new"), [])
        XCTAssertEqual(callCount, 1, "the notification went out")
        let errorLines = run.err.split(separator: "\n").filter { $0.contains("cannot write the metrics file") }
        XCTAssertEqual(errorLines.count, 1, run.err)
        XCTAssertTrue(errorLines.first?.contains("error") ?? false, run.err)
        XCTAssertTrue(errorLines.first?.contains(bad) ?? false, "the log names the path: \(run.err)")
        let last = try XCTUnwrap(try inst.status()["last_sweep"] as? [String: Any])
        XCTAssertEqual(last["result"] as? String, "ok")

        // Fixed: the next sweep writes it, with the totals so far.
        try setMetricsTextfile(metricsPath)
        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertEqual(try value(try metrics(), "spoolrun_messages_accepted_total"), 1)
    }
}
