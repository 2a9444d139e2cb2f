// Monitoring: each sweep writes its figures in Prometheus text format to metrics.textfile,
// read back here with the reference parser (prometheus_client); the values are those of
// the sweep's known results, totals come from the state store, the file is replaced
// atomically, and a file that cannot be written changes nothing about the sweep.
import Foundation
import Logging
@testable import Spool
import TestSupport
import XCTest
@testable import Tunnel

final class MetricsTests: XCTestCase {
    var dir: TemporaryDirectory!
    var config: SpoolrunConfig!
    var gateway: GatewayConfig!
    /// A whole second, so that ages and timestamps come out exact. Taken in setUp: XCTest
    /// makes every test case object when the run starts, minutes before a late test runs,
    /// and a clock that old makes the tunnel messages wrapped now look made in the future.
    var t0 = Date()
    var metricsPath: String { dir.file("textfile/spoolrun.prom") }
    /// Each run of the test's sendmail command appends one line here.
    var calls: String { dir.file("calls.log") }

    override func setUpWithError() throws {
        t0 = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        dir = try TemporaryDirectory()
        let inst = try Setup.run(SetupOptions(directory: dir.file("inst")))
        config = try SpoolrunConfig.load(path: inst.config)
        gateway = try GatewayConfig.load(path: inst.gatewayConfig)
        try FileSystem.makeDirectory(dir.file("textfile"), mode: 0o755)
        config.metricsTextfile = metricsPath
        config.sendmail = try command("ok.sh", "cat > /dev/null\nexit 0")
    }

    // MARK: - Helpers

    func command(_ name: String, _ body: String) throws -> String {
        let path = dir.file(name)
        let text = "#!/bin/sh\necho call >> \(calls)\n\(body)\n"
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o755])
        return path
    }

    var callCount: Int { ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").count }

    let original = Array("From: Alice <alice@corp.example>\r\nTo: Bob <bob@ext.example>\r\nSubject: Figures\r\n\r\nThe figures.\r\n".utf8)

    /// Wraps `original` for `recipients` (with passwords, so no password notice) into spool/new.
    func deliver(_ name: String, to recipients: [String], body: String = "") throws {
        var options = WrapOptions(recipients: recipients)
        for r in recipients { options.passwords[r] = "Pass-word-for-\(r)-42" }
        let tunnel = try Wrapper.wrap(original + Array(body.utf8), config: gateway, options: options)
        try FileSystem.writeAtomically(tunnel, to: config.spool + "/new/" + name)
    }

    func deliverRaw(_ name: String, _ bytes: [UInt8]) throws {
        try FileSystem.writeAtomically(bytes, to: config.spool + "/new/" + name)
    }

    var notEncrypted: [UInt8] {
        Array("From: \(config.senderAddress)\r\nTo: \(config.recipientAddress)\r\n\r\nplain\r\n".utf8)
    }

    @discardableResult
    func sweep(at date: Date, logger: Logger = Logger(label: "test")) throws -> SweepSummary {
        try Sweep(config: config, logger: logger, batchStages: [RenderStage(loginIterations: 1000)],
                  sweepStages: [DeliverStage()], clock: { date }).run()
    }

    func parsed() throws -> [PrometheusText.Family] {
        try PrometheusText.parse(try String(contentsOfFile: metricsPath, encoding: .utf8))
    }

    func value(_ families: [PrometheusText.Family], _ name: String, _ labels: [String: String] = [:],
               file: StaticString = #filePath, line: UInt = #line) throws -> Double {
        try XCTUnwrap(PrometheusText.value(families, name, labels), "no single sample \(name) \(labels)", file: file, line: line)
    }

    // MARK: - Format

    func testMetricsFileParsesAsPrometheusTextWithHelpAndTypeForEveryFamily() throws {
        try deliver("good", to: ["bob@ext.example"])
        try sweep(at: t0)
        let families = try parsed()
        let expected: [String: String] = [
            "spoolrun_messages_accepted": "counter", "spoolrun_messages_failed": "counter",
            "spoolrun_outbox_messages": "gauge", "spoolrun_outbox_oldest_queued_age_seconds": "gauge",
            "spoolrun_held_messages": "gauge", "spoolrun_spool_waiting_messages": "gauge",
            "spoolrun_last_successful_sweep_timestamp_seconds": "gauge", "spoolrun_last_sweep_duration_seconds": "gauge",
            "spoolrun_last_sweep_success": "gauge", "spoolrun_mailboxes": "gauge", "spoolrun_mailboxes_bytes": "gauge",
            "spoolrun_messages_expired": "counter", "spoolrun_retrying_messages": "gauge", "spoolrun_failed_removed": "counter",
        ]
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: families.map { ($0.name, $0.type) }), expected)
        for f in families {
            XCTAssertFalse(f.help.isEmpty, "\(f.name) has no HELP")
            XCTAssertFalse(f.samples.isEmpty, "\(f.name) has no sample")
            for s in f.samples where f.type == "counter" { XCTAssertTrue(s.name.hasSuffix("_total"), s.name) }
        }
        // Every reason code has its series, zero included, so rates and alerts work from the start.
        let reasons = Set(families.first { $0.name == "spoolrun_messages_failed" }!.samples.map { $0.labels["reason"] ?? "" })
        XCTAssertEqual(reasons, Set(ReasonCode.allCases.map(\.rawValue)))
        let states = Set(families.first { $0.name == "spoolrun_outbox_messages" }!.samples.map { $0.labels["state"] ?? "" })
        XCTAssertEqual(states, ["queued", "sent", "failed"])
    }

    // MARK: - Values

    func testAfterASweepWithKnownResultsEveryValueMatches() throws {
        try deliver("a", to: ["bob@ext.example"])
        try deliver("b", to: ["bob@ext.example"], body: "more text\r\n")
        try deliver("c", to: ["bob@ext.example", "carol@ext.example"], body: "for two\r\n")
        try deliverRaw("plain", notEncrypted)
        try deliverRaw("empty", [])
        let summary = try sweep(at: t0)
        XCTAssertEqual(summary.accepted, 3)
        XCTAssertEqual(summary.rejected, 2)
        XCTAssertEqual(callCount, 4, "one notification per message and recipient")

        let m = try parsed()
        XCTAssertEqual(try value(m, "spoolrun_messages_accepted_total"), 3)
        for code in ReasonCode.allCases {
            let want: Double = code == .notEncrypted || code == .malformedMIME ? 1 : 0
            XCTAssertEqual(try value(m, "spoolrun_messages_failed_total", ["reason": code.rawValue]), want, code.rawValue)
        }
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "sent"]), 4)
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "queued"]), 0)
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "failed"]), 0)
        XCTAssertEqual(try value(m, "spoolrun_outbox_oldest_queued_age_seconds"), 0)
        XCTAssertEqual(try value(m, "spoolrun_held_messages"), 0, "no spool/held yet: 0")
        XCTAssertEqual(try value(m, "spoolrun_spool_waiting_messages"), 0)
        XCTAssertEqual(try value(m, "spoolrun_last_successful_sweep_timestamp_seconds"),
                       (t0.timeIntervalSince1970 * 1000 + Double(summary.durationMS)).rounded() / 1000)
        XCTAssertEqual(try value(m, "spoolrun_last_sweep_duration_seconds"), Double(summary.durationMS) / 1000)
        XCTAssertEqual(try value(m, "spoolrun_last_sweep_success"), 1)
        XCTAssertEqual(try value(m, "spoolrun_mailboxes"), 2, "bob and carol")
        // The originals' sizes, once per recipient: a, b for bob; c for bob and carol.
        let sizes = [0, "more text\r\n".utf8.count, "for two\r\n".utf8.count].map { original.count + $0 }
        XCTAssertEqual(try value(m, "spoolrun_mailboxes_bytes"), Double(sizes[0] + sizes[1] + 2 * sizes[2]))
    }

    func testOutboxStatesAndOldestQueuedAgeFollowTheQueue() throws {
        config.sendmail = try command("fail.sh", "cat > /dev/null\nexit 75")
        config.giveUpAfter = 2 * 3600
        try deliver("a", to: ["bob@ext.example", "carol@ext.example"])
        try sweep(at: t0)
        var m = try parsed()
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "queued"]), 2)
        XCTAssertEqual(try value(m, "spoolrun_outbox_oldest_queued_age_seconds"), 0, "queued by this very sweep")

        try sweep(at: t0.addingTimeInterval(3600))
        m = try parsed()
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "queued"]), 2)
        XCTAssertEqual(try value(m, "spoolrun_outbox_oldest_queued_age_seconds"), 3600)

        try sweep(at: t0.addingTimeInterval(3 * 3600))  // past mail.give_up_after
        m = try parsed()
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "queued"]), 0)
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "failed"]), 2)
        XCTAssertEqual(try value(m, "spoolrun_outbox_oldest_queued_age_seconds"), 0)
        XCTAssertEqual(try value(m, "spoolrun_outbox_messages", ["state": "sent"]), 0)
        XCTAssertEqual(callCount, 6)
    }

    func testTotalsComeFromTheStateStoreAndSurviveANewProcess() throws {
        try deliver("a", to: ["bob@ext.example"])
        try deliverRaw("plain", notEncrypted)
        try sweep(at: t0)
        // A later sweep in a new Sweep and a new store handle, as the next `spoolrun run` is.
        try deliver("b", to: ["bob@ext.example"])
        try deliverRaw("plain2", notEncrypted)
        let second = try sweep(at: t0.addingTimeInterval(60))
        XCTAssertEqual(second.accepted, 1)
        let m = try parsed()
        XCTAssertEqual(try value(m, "spoolrun_messages_accepted_total"), 2)
        XCTAssertEqual(try value(m, "spoolrun_messages_failed_total", ["reason": "not-encrypted"]), 2)
        // An empty sweep keeps the totals.
        try sweep(at: t0.addingTimeInterval(120))
        XCTAssertEqual(try value(try parsed(), "spoolrun_messages_accepted_total"), 2)
    }

    func testHeldCountsTunnelFilesInSpoolHeldNotTheirReasonsAndZeroWithoutTheFolder() throws {
        XCTAssertEqual(try MetricsSnapshot.heldCount(spool: config.spool), 0)
        let held = config.spool + "/held"
        try FileSystem.makeDirectory(held, mode: 0o750)
        for (name, text) in [("m1", "x"), ("m1.reason", "over-quota\n"), ("m2", "y"), ("m2.reason", "over-quota\n"),
                             ("odd.reason", "a tunnel file whose own name ends in .reason"), (".m3.123.tmp", "partial")] {
            try FileSystem.writeAtomically(Array(text.utf8), to: held + "/" + name)
        }
        try FileSystem.makeDirectory(held + "/sub", mode: 0o750)
        XCTAssertEqual(try MetricsSnapshot.heldCount(spool: config.spool), 3, "m1, m2 and odd.reason")
        try sweep(at: t0)
        XCTAssertEqual(try value(try parsed(), "spoolrun_held_messages"), 3)
        XCTAssertEqual(try StatusReport.gather(config: config).held, 3)
    }

    func testLastSuccessfulSweepStaysWhenASweepFailsAndSuccessTurnsZero() throws {
        try deliver("a", to: ["bob@ext.example"])
        let first = try sweep(at: t0)
        let failing = Sweep(config: config, logger: Logger(label: "test"), batchStages: [RenderStage(loginIterations: 1000)],
                            sweepStages: [FailingStage()], clock: { [t0] in t0.addingTimeInterval(60) })
        XCTAssertThrowsError(try failing.run())
        let m = try parsed()
        XCTAssertEqual(try value(m, "spoolrun_last_sweep_success"), 0)
        XCTAssertEqual(try value(m, "spoolrun_last_successful_sweep_timestamp_seconds"),
                       (t0.timeIntervalSince1970 * 1000 + Double(first.durationMS)).rounded() / 1000,
                       "still the first sweep's")
        XCTAssertEqual(try value(m, "spoolrun_messages_accepted_total"), 1)
    }

    // MARK: - Status

    func testStatusCarriesTheSameFiguresAsTheMetricsFile() throws {
        config.sendmail = try command("fail.sh", "cat > /dev/null\nexit 75")
        try deliver("a", to: ["bob@ext.example"])
        try deliverRaw("empty", [])
        try sweep(at: t0)
        try sweep(at: t0.addingTimeInterval(600))
        let m = try parsed()
        let store = try StateStore(directory: config.state)
        let status = StatusReport(try MetricsSnapshot.gather(config: config, store: store, now: t0.addingTimeInterval(600)))
        XCTAssertEqual(Double(status.accepted), try value(m, "spoolrun_messages_accepted_total"))
        for code in ReasonCode.allCases {
            XCTAssertEqual(Double(status.failed[code.rawValue] ?? 0), try value(m, "spoolrun_messages_failed_total", ["reason": code.rawValue]))
        }
        XCTAssertEqual(Double(status.outbox.queued), try value(m, "spoolrun_outbox_messages", ["state": "queued"]))
        XCTAssertEqual(Double(status.outbox.sent), try value(m, "spoolrun_outbox_messages", ["state": "sent"]))
        XCTAssertEqual(Double(status.outbox.failed), try value(m, "spoolrun_outbox_messages", ["state": "failed"]))
        XCTAssertEqual(status.outbox.oldestQueuedAgeSeconds, 600)
        XCTAssertEqual(status.outbox.oldestQueuedAgeSeconds, try value(m, "spoolrun_outbox_oldest_queued_age_seconds"))
        XCTAssertEqual(Double(status.held), try value(m, "spoolrun_held_messages"))
        XCTAssertEqual(Double(status.waiting), try value(m, "spoolrun_spool_waiting_messages"))
        XCTAssertEqual(status.lastSuccessfulSweepTimestamp, try value(m, "spoolrun_last_successful_sweep_timestamp_seconds"))
        XCTAssertEqual(Double(try XCTUnwrap(status.lastSweep).durationMS) / 1000, try value(m, "spoolrun_last_sweep_duration_seconds"))
        XCTAssertEqual(Double(status.mailboxes), try value(m, "spoolrun_mailboxes"))
        XCTAssertEqual(Double(status.mailboxBytes), try value(m, "spoolrun_mailboxes_bytes"))
        XCTAssertEqual(status.mailboxBytes, original.count)
    }

    // MARK: - Writing

    func testFileIsReplacedAtomicallyWithMode0644AndNoTemporaryFileLeft() throws {
        try sweep(at: t0)
        var first = stat()
        XCTAssertEqual(stat(metricsPath, &first), 0)
        XCTAssertEqual(first.st_mode & 0o777, 0o644, "node_exporter runs as another user")
        try deliver("a", to: ["bob@ext.example"])
        try sweep(at: t0.addingTimeInterval(60))
        var second = stat()
        XCTAssertEqual(stat(metricsPath, &second), 0)
        XCTAssertNotEqual(first.st_ino, second.st_ino, "a new file renamed into place, not the old one rewritten")
        XCTAssertEqual(second.st_mode & 0o777, 0o644)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.file("textfile")), ["spoolrun.prom"])
        XCTAssertEqual(try value(try parsed(), "spoolrun_messages_accepted_total"), 1)
    }

    func testAReaderNeverSeesAPartialFileWhileSweepsRewriteIt() throws {
        try deliver("a", to: ["bob@ext.example"])
        try sweep(at: t0)
        let store = try StateStore(directory: config.state)
        let complete = try String(contentsOfFile: metricsPath, encoding: .utf8)
        let reads = ReadLog()
        let done = DispatchSemaphore(value: 0)
        let path = metricsPath
        Thread.detachNewThread {
            // Reads while the writes go on (bounded: at most 100,000 reads).
            for _ in 0..<100_000 where !reads.stopped {
                reads.add(FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) })
            }
            done.signal()
        }
        for _ in 0..<200 {  // bounded
            XCTAssertTrue(MetricsTextfile.write(config: config, store: store, now: t0, logger: Logger(label: "test")))
        }
        reads.stop()
        XCTAssertEqual(done.wait(timeout: .now() + 120), .success)
        XCTAssertGreaterThan(reads.all.count, 0)
        XCTAssertFalse(reads.all.contains(nil), "the file was there at every read")
        for text in Set(reads.all.compactMap { $0 }) { XCTAssertEqual(text, complete) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.file("textfile")), ["spoolrun.prom"])
    }

    func testAnUnwritableMetricsPathIsLoggedAndTheSweepsResultStands() throws {
        config.metricsTextfile = dir.file("missing-folder/spoolrun.prom")
        try deliver("a", to: ["bob@ext.example"])
        let log = CapturedLog()
        let summary = try sweep(at: t0, logger: Logger(label: "test") { _ in CapturingHandler(log: log) })
        XCTAssertEqual(summary.accepted, 1)
        XCTAssertEqual(callCount, 1, "the notification was sent")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: config.spool + "/archive"), ["a"])
        let errors = log.entries.filter { $0.level == .error }
        XCTAssertEqual(errors.count, 1, "\(log.entries)")
        XCTAssertEqual(errors.first?.metadata["path"], "\(dir.file("missing-folder/spoolrun.prom"))")
        XCTAssertTrue(errors.first?.message.contains("metrics") ?? false)
        XCTAssertTrue(log.entries.contains { $0.message == "sweep done" }, "the sweep went on to its end")
        XCTAssertEqual(try StatusReport.gather(config: config).lastSweep?.result, "ok")
    }

    func testNoMetricsFileWithoutTheSetting() throws {
        config.metricsTextfile = nil
        try sweep(at: t0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.file("textfile")), [])
    }

    // MARK: - Config

    func testMetricsTextfileKeyResolvesFromTheConfigFolderAndIsCheckedStrictly() throws {
        let path = config.file
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertNil(try SpoolrunConfig.load(path: path).metricsTextfile, "unset: no file")
        func load(_ extra: String) throws -> SpoolrunConfig {
            try (text + "\n[metrics]\n" + extra + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return try SpoolrunConfig.load(path: path)
        }
        XCTAssertEqual(try load("textfile = \"metrics/spoolrun.prom\"").metricsTextfile,
                       ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("metrics/spoolrun.prom"))
        XCTAssertEqual(try load("textfile = \"/var/lib/node_exporter/spoolrun.prom\"").metricsTextfile,
                       "/var/lib/node_exporter/spoolrun.prom")
        for (extra, key) in [("text_file = \"x.prom\"", "metrics.text_file"), ("textfile = 3", "metrics.textfile"),
                             ("textfile = \"\"", "metrics.textfile")] {
            XCTAssertThrowsError(try load(extra), extra) { error in
                XCTAssertEqual((error as? ConfigError)?.key, key, "\(error)")
            }
        }
    }

    // MARK: - Prometheus text details

    func testLabelValuesAreEscapedAndUnknownReasonCodesStillCounted() throws {
        var snapshot = MetricsSnapshot(takenAt: t0, store: StateStore.MetricsCounts(), held: 0, waiting: 0)
        snapshot.store.rejectedByCode = ["over-quota": 2, "odd\"code\\\n": 1]
        let m = try PrometheusText.parse(snapshot.prometheusText())
        XCTAssertEqual(try value(m, "spoolrun_messages_failed_total", ["reason": "over-quota"]), 2)
        XCTAssertEqual(try value(m, "spoolrun_messages_failed_total", ["reason": "odd\"code\\\n"]), 1)
        XCTAssertEqual(try value(m, "spoolrun_messages_failed_total", ["reason": "replay"]), 0)
        XCTAssertEqual(try value(m, "spoolrun_last_successful_sweep_timestamp_seconds"), 0, "never: 0")
        XCTAssertEqual(try value(m, "spoolrun_last_sweep_success"), 0)
    }
}

// MARK: - Test doubles

/// A sweep step that fails: the sweep itself fails (and records so).
private struct FailingStage: SweepStage {
    struct Failure: Error {}
    let step = PipelineStep.expire
    func run(context: SweepContext) throws { throw Failure() }
}

private final class ReadLog: @unchecked Sendable {
    // @unchecked Sendable: every access holds the lock.
    private let lock = NSLock()
    private var texts: [String?] = []
    private var stopFlag = false
    func add(_ text: String?) { lock.lock(); texts.append(text); lock.unlock() }
    func stop() { lock.lock(); stopFlag = true; lock.unlock() }
    var stopped: Bool { lock.lock(); defer { lock.unlock() }; return stopFlag }
    var all: [String?] { lock.lock(); defer { lock.unlock() }; return texts }
}

private final class CapturedLog: @unchecked Sendable {
    // @unchecked Sendable: every access holds the lock.
    struct Entry: Sendable { let level: Logger.Level; let message: String; let metadata: [String: String] }
    private let lock = NSLock()
    private var list: [Entry] = []
    func add(_ e: Entry) { lock.lock(); list.append(e); lock.unlock() }
    var entries: [Entry] { lock.lock(); defer { lock.unlock() }; return list }
}

private struct CapturingHandler: LogHandler {
    let log: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let merged = self.metadata.merging(metadata ?? [:]) { $1 }
        log.add(.init(level: level, message: "\(message)", metadata: merged.mapValues { "\($0)" }))
    }
}
