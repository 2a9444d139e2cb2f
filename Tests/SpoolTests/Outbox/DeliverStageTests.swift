// Step "deliver" (DESIGN §6) driven in-process with the sweep's clock set where the test
// needs it, so that back-off and give-up are checked without waiting minutes or days: the
// command gets `-i -f FROM -- RCPT` and the message on stdin, exit 0 marks the mail sent,
// anything else waits 1, 2, 4 ... minutes (an hour at most), and after mail.give_up_after
// the mail is marked failed and kept until an administrator retries it.
import Foundation
import Logging
@testable import Spool
import TestSupport
import XCTest

final class DeliverStageTests: XCTestCase {
    private var scratch: TemporaryDirectory!
    private var config: SpoolrunConfig!
    private var store: StateStore!
    private var key: OutboxKey!
    /// Each run of a test command appends one line here.
    private var calls: String { scratch.file("calls.log") }

    override func setUpWithError() throws {
        scratch = try TemporaryDirectory()
        let inst = try Setup.run(SetupOptions(directory: scratch.file("inst")))
        config = try SpoolrunConfig.load(path: inst.config)
        try FileSystem.makeDirectory(config.state, mode: 0o700)
        store = try StateStore(directory: config.state)
        key = try OutboxKey.loadOrCreate(path: config.outboxKey)
    }

    /// A sendmail stand-in: a shell script in the scratch folder that logs each call.
    private func command(_ name: String, _ body: String) throws -> String {
        let path = scratch.file(name)
        let text = "#!/bin/sh\necho \"call\" >> \(calls)\n\(body)\n"
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o755])
        return path
    }

    private var callCount: Int {
        ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    private func failing() throws -> String {
        try command("fail.sh", "cat > /dev/null\necho 'relay unreachable: try later' >&2\nexit 75")
    }

    @discardableResult
    private func queue(_ n: Int = 1, at time: Date) throws -> [OutboxEntry] {
        var writes = BatchWrites()
        for i in 0..<n {
            let rcpt = "rcpt\(i)@ext.example"
            let message = Array("From: portal@portal.example\r\nTo: \(rcpt)\r\nSubject: test \(i)\r\n\r\nhello\r\n".utf8)
            writes.outbox.append(try key.entry(.notification, uid: OutboxEntry.uid(.notification, cause: "env-deliver", recipient: rcpt),
                                               message: message, envelopeID: "env-deliver", mailFrom: config.mailFrom,
                                               to: rcpt, now: time.addingTimeInterval(Double(i - n) / 1000)))
        }
        try store.record(accepted: [], rejected: [], writes: writes)
        return writes.outbox
    }

    /// Runs the deliver stage as a sweep at `now` would.
    private func deliver(at now: Date) throws {
        let context = SweepContext(config: config, spool: SpoolDirectory(root: config.spool), store: store, now: now,
                                   logger: Logger(label: "deliver-test"))
        try DeliverStage().run(context: context)
    }

    private func entry(_ uid: String) throws -> OutboxEntry {
        try XCTUnwrap(try store.outbox().first { $0.uid == uid })
    }

    // MARK: -

    func testTheBackoffIsOneTwoFourMinutesDoublingUpToAnHour() {
        XCTAssertEqual(DeliverStage.backoff(afterAttempts: 1), 60)
        XCTAssertEqual(DeliverStage.backoff(afterAttempts: 2), 120)
        XCTAssertEqual(DeliverStage.backoff(afterAttempts: 3), 240)
        XCTAssertEqual(DeliverStage.backoff(afterAttempts: 4), 480)
        XCTAssertEqual(DeliverStage.backoff(afterAttempts: 5), 960)
        XCTAssertEqual(DeliverStage.backoff(afterAttempts: 6), 1920)
        XCTAssertEqual(DeliverStage.backoff(afterAttempts: 7), 3600, "3840 s is capped at an hour")
        for n in [8, 20, 64, 1000, Int.max] {
            XCTAssertEqual(DeliverStage.backoff(afterAttempts: n), 3600, "after \(n) failures")
        }
        XCTAssertEqual(DeliverStage.backoff(afterAttempts: 0), 60, "never less than a minute")
        var previous: TimeInterval = 0
        for n in 1...40 {
            let wait = DeliverStage.backoff(afterAttempts: n)
            XCTAssertGreaterThanOrEqual(wait, previous, "the wait never shrinks")
            previous = wait
        }
    }

    func testTheCommandGetsTheSendmailArgumentsAndTheMessageAndExit0MarksTheMailSent() throws {
        let args = scratch.file("args.txt"), stdin = scratch.file("stdin.eml")
        config.sendmail = try command("ok.sh", "printf '%s\\n' \"$@\" > \(args)\ncat > \(stdin)\nexit 0")
        let t0 = Date()
        let e = try queue(at: t0)[0]
        try deliver(at: t0)
        XCTAssertEqual(callCount, 1)
        XCTAssertEqual(try String(contentsOfFile: args, encoding: .utf8), "-i\n-f\n\(config.mailFrom)\n--\n\(e.recipient)\n")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: stdin)), Data(try key.message(of: e)), "the message, byte for byte")
        let sent = try entry(e.uid)
        XCTAssertEqual(sent.state, .sent)
        XCTAssertEqual(sent.attempts, 1)
        XCTAssertNotNil(sent.sentAt)
        try deliver(at: t0.addingTimeInterval(3600))
        XCTAssertEqual(callCount, 1, "a sent mail is not sent again")
    }

    func testAFailedAttemptWaitsItsBackoffOnTheSweepsClockAndIsTriedAgainOnceDue() throws {
        config.sendmail = try failing()
        let t0 = Date()
        let e = try queue(at: t0)[0]

        try deliver(at: t0)
        XCTAssertEqual(callCount, 1)
        var now = try entry(e.uid)
        XCTAssertEqual(now.state, .queued)
        XCTAssertEqual(now.attempts, 1)
        let error = try XCTUnwrap(now.lastError)
        XCTAssertTrue(error.contains("exited 75") && error.contains("relay unreachable: try later"), error)
        var next = try XCTUnwrap(now.nextAttemptAt)
        XCTAssertEqual(next.timeIntervalSince(t0), 60, accuracy: 1, "1 minute after the first failure")

        try deliver(at: t0.addingTimeInterval(30))
        XCTAssertEqual(callCount, 1, "not due yet: no attempt")
        XCTAssertEqual(try entry(e.uid).attempts, 1)

        // Later sweeps: each one that finds the mail due tries once more and doubles the wait,
        // counted from that sweep's time.
        var sweepTime = t0
        for (attempt, wait) in [(2, 120.0), (3, 240), (4, 480)] {
            try deliver(at: next.addingTimeInterval(-1))
            XCTAssertEqual(callCount, attempt - 1, "a second before it is due, attempt \(attempt) has not happened")
            sweepTime = next.addingTimeInterval(1)
            try deliver(at: sweepTime)
            XCTAssertEqual(callCount, attempt)
            now = try entry(e.uid)
            XCTAssertEqual(now.attempts, attempt)
            XCTAssertEqual(now.state, .queued)
            next = try XCTUnwrap(now.nextAttemptAt)
            XCTAssertEqual(next.timeIntervalSince(sweepTime), wait, accuracy: 1,
                           "after \(attempt) failures the next try is \(wait) s after the sweep that failed")
        }
    }

    func testAfterGiveUpAfterTheMailIsMarkedFailedKeptShownAndARetryStartsANewWindow() throws {
        config.sendmail = try failing()
        config.giveUpAfter = 3600
        let t0 = Date()
        let e = try queue(at: t0)[0]

        try deliver(at: t0.addingTimeInterval(600))
        XCTAssertEqual(try entry(e.uid).state, .queued, "10 minutes after queueing it is still being retried")

        try deliver(at: t0.addingTimeInterval(3601))
        var failed = try entry(e.uid)
        XCTAssertEqual(failed.state, .failed, "an hour after queueing the mail is given up")
        XCTAssertEqual(failed.attempts, 2)
        XCTAssertTrue(failed.lastError?.contains("exited 75") == true, "\(failed.lastError ?? "nil")")
        XCTAssertEqual(try key.message(of: failed), try key.message(of: e), "kept whole")
        XCTAssertEqual(try store.outboxCounts().failed, 1)
        XCTAssertEqual(try store.outboxCounts().queued, 0)
        let status = try StatusReport.gather(config: config)
        XCTAssertEqual(status.outbox.failed, 1)
        XCTAssertTrue(status.text().contains("outbox: 0 queued, 0 sent, 1 failed"), status.text())

        try deliver(at: t0.addingTimeInterval(7200))
        XCTAssertEqual(callCount, 2, "a failed mail is not tried again by itself")
        XCTAssertEqual(try entry(e.uid).state, .failed)

        // An administrator's retry: due at once, and the give-up time counts from the retry.
        let retryTime = t0.addingTimeInterval(7200)
        try store.retryOutbox(uid: e.uid, now: retryTime)
        failed = try entry(e.uid)
        XCTAssertEqual(failed.state, .queued)
        XCTAssertEqual(try store.dueOutbox(now: retryTime).map(\.uid), [e.uid])
        try deliver(at: retryTime.addingTimeInterval(1))
        XCTAssertEqual(callCount, 3)
        XCTAssertEqual(try entry(e.uid).state, .queued, "the retry's own window has just begun")
        try deliver(at: retryTime.addingTimeInterval(3601))
        XCTAssertEqual(callCount, 4)
        XCTAssertEqual(try entry(e.uid).state, .failed, "an hour after the retry it is given up again")
    }

    func testAfterThreeFailuresInARowTheRestOfTheQueueWaitsForTheNextSweep() throws {
        config.sendmail = try failing()
        let t0 = Date()
        let entries = try queue(5, at: t0)
        try deliver(at: t0)
        XCTAssertEqual(callCount, DeliverStage.failuresBeforePause)
        let attempts = try entries.map { try entry($0.uid).attempts }
        XCTAssertEqual(attempts, [1, 1, 1, 0, 0], "the oldest three were tried")
        XCTAssertEqual(Set(try store.dueOutbox(now: t0).map(\.uid)), Set(entries.suffix(2).map(\.uid)),
                       "the other two are due for the next sweep")
        try deliver(at: t0.addingTimeInterval(1))
        XCTAssertEqual(callCount, 5)
        XCTAssertEqual(try entries.map { try entry($0.uid).attempts }, [1, 1, 1, 1, 1])
    }

    func testAMailCommandThatCannotBeRunIsNamedAsSuchNotAsKilled() {
        let outcome = SendmailCommand("/nonexistent/sendmail", timeout: 10).send(Array("Subject: x\n\nx\n".utf8), from: "a@b.example", to: ["c@d.example"])
        XCTAssertFalse(outcome.sent)
        XCTAssertTrue(outcome.summary.hasPrefix("could not be run: cannot run /nonexistent/sendmail"), outcome.summary)
    }
}
