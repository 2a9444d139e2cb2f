// Step "deliver" (DESIGN §6): each sweep hands the due outbox entries to the configured
// sendmail command, one run per message. Exit 0 means sent; anything else (a timeout
// included) means try again later, with exponential back-off, until `mail.give_up_after`
// has passed since the mail was queued (or since an administrator's retry). Then it is
// marked failed: kept, counted by `status`, logged, never dropped silently.
import Foundation
import Logging
import Tunnel

public struct DeliverStage: SweepStage {
    public let step = PipelineStep.deliver
    public init() {}

    /// After this many failures in a row, a sweep leaves the rest of the queue for the next one.
    public static let failuresBeforePause = 3

    /// The wait after the n-th failed attempt: 1, 2, 4 ... minutes, at most an hour.
    public static func backoff(afterAttempts n: Int) -> TimeInterval {
        min(3600, 60 * pow(2, Double(max(0, n - 1))))
    }

    public func run(context: SweepContext) throws {
        try FaultPoint.reach("deliver")
        let due = try context.store.dueOutbox(now: context.now)
        guard !due.isEmpty else { return }
        let key = try OutboxKey.loadOrCreate(path: context.config.outboxKey)
        let command = SendmailCommand(context.config.sendmail, timeout: context.config.mailTimeout)
        var sent = 0, waiting = 0, failed = 0, consecutiveFailures = 0
        // The time of an attempt: the wall clock, but never before the sweep's clock, by which
        // the due entries were picked. Back-off and give-up are then judged on the same clock
        // as `dueOutbox`: a sweep run at a later time (as tests do) decides as it would then.
        let clock = { max(context.now, Date()) }
        for (n, entry) in due.enumerated() {
            // An MTA that fails every time (down, misconfigured, hanging until the timeout)
            // should not hold the sweep for the whole queue: the rest waits for the next one.
            if consecutiveFailures >= Self.failuresBeforePause {
                context.logger.warning("the mail command failed \(consecutiveFailures) times in a row; the rest of the queue waits for the next sweep",
                                       metadata: ["step": "deliver", "left": "\(due.count - n)"])
                break
            }
            let meta: Logger.Metadata = ["step": "deliver", "outbox": "\(entry.uid.prefix(12))", "kind": "\(entry.kind.rawValue)",
                                         "to": "\(entry.recipient)"]
            try FaultPoint.reach("sendmail")
            let outcome: SendmailOutcome
            do {
                // Opened in a statement of its own: the sealed payload is let go before the send.
                let message = try key.message(of: entry, sealed: try context.store.sealedPayload(of: entry))
                outcome = command.send(message, from: entry.mailFrom, to: [entry.recipient])
            } catch {
                // A row the key cannot open can never be sent: say so once, keep it as failed.
                try context.store.recordAttempt(uid: entry.uid, outcome: .failed, error: "\(error)", nextAttempt: nil, now: clock())
                context.logger.error("outbox entry cannot be opened; marked failed", metadata: meta.merging(["error": "\(error)"]) { $1 })
                failed += 1
                continue
            }
            let now = clock()
            if outcome.sent {
                try context.store.recordAttempt(uid: entry.uid, outcome: .sent, error: nil, nextAttempt: nil, now: now)
                context.logger.info("mail sent", metadata: meta)
                sent += 1
                consecutiveFailures = 0
                continue
            }
            consecutiveFailures += 1
            let attempts = entry.attempts + 1
            let windowStart = entry.retriedAt ?? entry.createdAt
            let problem = "mail.sendmail \(outcome.summary)"
            if now.timeIntervalSince(windowStart) >= context.config.giveUpAfter {
                try context.store.recordAttempt(uid: entry.uid, outcome: .failed, error: problem, nextAttempt: nil, now: now)
                context.logger.error("gave up delivering mail; kept as failed (spoolrun outbox retry to try again)",
                                     metadata: meta.merging(["attempts": "\(attempts)", "error": "\(problem)"]) { $1 })
                failed += 1
            } else {
                let next = now.addingTimeInterval(Self.backoff(afterAttempts: attempts))
                try context.store.recordAttempt(uid: entry.uid, outcome: .queued, error: problem, nextAttempt: next, now: now)
                context.logger.warning("mail not sent; will retry", metadata: meta.merging(
                    ["attempts": "\(attempts)", "error": "\(problem)", "next": "\(TunnelEnvelope.formatTime(next))"]) { $1 })
                waiting += 1
            }
        }
        context.logger.info("outbox delivered", metadata: ["step": "deliver", "sent": "\(sent)", "retrying": "\(waiting)",
                                                          "failed": "\(failed)"])
    }
}
