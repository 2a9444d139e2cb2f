// `spoolrun reprocess`: render archived messages again (Spool/Reprocess.swift), with a
// progress bar on a terminal and plain log lines otherwise, and a summary at the end.
import ArgumentParser
import Foundation
import Logging
import Spool
import Tunnel

extension Spoolrun {
    struct Reprocess: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render archived messages again (after an upgrade, a recipient reset or a fix); idempotent.",
            discussion: """
                Exactly one of --all, --message, --recipient, --since or --held. Mail is sent again only \
                with --notify. Takes the sweep lock: it waits for no sweep, and a sweep waits for it.
                """)

        @OptionGroup var options: ConfigOption
        @Flag(help: "Every accepted message.") var all = false
        @Option(help: "One message, by its envelope id.") var message: String?
        @Option(help: "The messages of one recipient (only that mailbox is written).") var recipient: String?
        @Option(help: "Messages received at or after DATE (YYYY-MM-DD, or RFC 3339 such as 2026-11-25T10:00:00Z).")
        var since: String?
        @Flag(help: "Move the messages in spool/held back to spool/new and sweep them.") var held = false
        @Flag(help: "Queue the notifications and OTP-PDF mails again.") var notify = false
        @Flag(help: "Log only warnings and errors.") var quiet = false

        func validate() throws {
            let chosen = [all, message != nil, recipient != nil, since != nil, held].filter { $0 }.count
            guard chosen == 1 else { throw ValidationError("give exactly one of --all, --message, --recipient, --since, --held") }
            if let since, ReprocessSelection.date(since) == nil {
                throw ValidationError("--since \(since): not a date (YYYY-MM-DD, or RFC 3339 such as 2026-11-25T10:00:00Z)")
            }
        }

        func run() throws {
            CLI.bootstrapLogging(level: quiet ? .warning : .info)
            try CLI.guarded {
                let config = try options.load()
                let logger = Logger(label: "spoolrun")
                if held {
                    let (moved, summary) = try HeldMessages(config: config).redeliver(logger: logger)
                    print("moved \(moved) held message(s) back to spool/new; swept: \(summary.accepted) accepted, "
                          + "\(summary.rejected) rejected, \(summary.held) held again")
                    return
                }
                let selection: ReprocessSelection
                if let message { selection = .message(message) }
                else if let recipient { selection = .recipient(EmailAddress.normalize(recipient)) }
                else if let since { selection = .since(ReprocessSelection.date(since)!) }
                else { selection = .all }
                let bar = ProgressReport(terminal: isatty(STDERR_FILENO) == 1, logger: logger)
                let summary = try Spool.Reprocess(config: config, logger: logger)
                    .run(ReprocessOptions(selection: selection, notify: notify), progress: bar.update)
                bar.finish()
                print("""
                    reprocessed: \(summary.selected) message(s) selected, \(summary.rewritten) mailbox cop(ies) rewritten, \
                    \(summary.unchanged) unchanged, \(summary.failed) failed, \(summary.expired) past retention or expiry (not rendered); portal app files updated: \(summary.appFilesUpdated); \
                    mail queued: \(summary.mailQueued)
                    """)
                if summary.failed > 0 {
                    throw Failure(message: "\(summary.failed) message(s) could not be rendered; see the log lines above")
                }
            }
        }
    }
}

/// Progress on a terminal: one line redrawn, with a count and an ETA. Elsewhere: a log line
/// at each tenth of the way.
final class ProgressReport {
    let terminal: Bool
    let logger: Logger
    let started = Date()
    var lastTenth = -1
    var drew = false

    init(terminal: Bool, logger: Logger) {
        self.terminal = terminal
        self.logger = logger
    }

    func update(_ done: Int, _ total: Int) {
        guard total > 0 else { return }
        let elapsed = Date().timeIntervalSince(started)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        if terminal {
            let width = 30
            let filled = done * width / total
            let line = "\r[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
                + "] \(done)/\(total)  ETA \(Self.clock(eta)) "
            FileHandle.standardError.write(Data(line.utf8))
            drew = true
        } else {
            let tenth = done * 10 / total
            if tenth != lastTenth {
                lastTenth = tenth
                logger.info("reprocess progress", metadata: ["done": "\(done)", "total": "\(total)", "eta_s": "\(Int(eta))"])
            }
        }
    }

    func finish() {
        if terminal && drew { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func clock(_ seconds: Double) -> String {
        let s = max(0, Int(seconds.rounded()))
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
