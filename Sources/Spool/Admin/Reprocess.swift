// `spoolrun reprocess` (DESIGN §8): renders accepted messages again from spool/archive, which
// still holds them with the tunnel encryption. For after an upgrade of the templates, the
// sanitizer or the portal app, a recipient reset, or a fix. It takes the sweep lock, refreshes
// the portal app in www/, decrypts and verifies each archived message as the intake did (at
// the time it was received), and renders it with RenderStage in reprocess mode: known
// recipients only, no mail unless asked, and nothing rewritten that would come out the same,
// so a second run changes no file.
import Foundation
import Logging
import Crypto
import Tunnel

public struct ReprocessOptions: Sendable {
    public var selection: ReprocessSelection
    /// Queue the notifications and OTP-PDF mails again (a new round of each).
    public var notify: Bool

    public init(selection: ReprocessSelection, notify: Bool = false) {
        self.selection = selection
        self.notify = notify
    }
}

public struct ReprocessSummary: Sendable, Equatable {
    /// Messages selected in the state store.
    public var selected = 0
    /// Deliveries (message x recipient) written again because their render changed.
    public var rewritten = 0
    /// Deliveries whose render was the same: left as they were.
    public var unchanged = 0
    /// Messages that could not be rendered (archive file missing or no longer opening).
    public var failed = 0
    /// Messages past portal.retention_days or their envelope's `expires`: not rendered.
    public var expired = 0
    /// Portal app files that differed and were replaced.
    public var appFilesUpdated = 0
    /// Mail queued (only with `notify`).
    public var mailQueued = 0
}

/// Why an administrator's command (reprocess, recall, recipient reset or delete) stopped.
public struct AdminCommandError: Error, CustomStringConvertible {
    public let description: String
    /// The sweep lock is held: try again later.
    public var busy = false
}

public struct Reprocess {
    let config: SpoolrunConfig
    let logger: Logger
    let loginIterations: Int
    let clock: @Sendable () -> Date

    public init(config: SpoolrunConfig, logger: Logger, loginIterations: Int = SealedFormat.loginIterations,
                clock: @escaping @Sendable () -> Date = Date.init) {
        self.config = config
        self.logger = logger
        self.loginIterations = loginIterations
        self.clock = clock
    }

    /// `progress(done, total)` after each batch of messages.
    public func run(_ options: ReprocessOptions, progress: (Int, Int) -> Void = { _, _ in }) throws -> ReprocessSummary {
        let lock = try Self.lock(config, logger: logger)
        defer { withExtendedLifetime(lock) {} }
        return try render(options, progress: progress)
    }

    /// The sweep lock, or a clear error when a sweep (or another command) holds it.
    static func lock(_ config: SpoolrunConfig, logger: Logger) throws -> SweepLock {
        guard let lock = try SweepLock.take(config, logger: logger) else {
            throw AdminCommandError(description: "a sweep or another command is running (lock \(config.state)/sweep.lock); try again when it is done",
                                 busy: true)
        }
        return lock
    }

    /// `run` for a caller that holds the sweep lock already.
    func render(_ options: ReprocessOptions, progress: (Int, Int) -> Void = { _, _ in }) throws -> ReprocessSummary {
        var summary = ReprocessSummary()
        if let app = PortalApp.locate() {
            summary.appFilesUpdated = try PortalApp.install(from: app, to: config.www)
            if summary.appFilesUpdated > 0 { logger.info("portal app updated", metadata: ["files": "\(summary.appFilesUpdated)", "from": "\(app)"]) }
        } else {
            logger.warning("the portal app was not found (PREFIX/share/spoolrun/www or $SPOOLRUN_APP); www/ keeps the one it has")
        }

        let store = try StateStore(directory: config.state)
        let spool = SpoolDirectory(root: config.spool)
        let selected = try store.messages(options.selection)
        summary.selected = selected.count
        if case .message(let id) = options.selection, selected.isEmpty {
            throw AdminCommandError(description: "no accepted message has the envelope id \(id) (see spoolrun status, or the log of the sweep that took it)")
        }
        // A message past its retention or its envelope's `expires` is not rendered again,
        // even before a sweep's expire step has taken it out (what it took out has a tombstone).
        let now = clock()
        let retainedSince = now.addingTimeInterval(-Double(config.retentionDays) * 86_400)
        let records = selected.filter { r in
            let expired = r.receivedAt < retainedSince || r.expires.map { $0 <= now } == true
            if expired {
                logger.info("past its retention or expiry; not rendered", metadata: ["id": "\(r.envelopeID)"])
                summary.expired += 1
            }
            return !expired
        }
        let intake = Intake(config: config, opener: try KeyFiles.tunnelOpener(for: config))
        var only: String?
        if case .recipient(let address) = options.selection { only = address }
        let stage = RenderStage(loginIterations: loginIterations,
                                mode: .reprocess(only: only, notifyRound: options.notify ? Int(clock().timeIntervalSince1970) : nil))

        // Messages taken in by one sweep share their received time, which their deliveries
        // keep (the inbox order): they are rendered together, in batches as a sweep's.
        let groups = Batching.batches(records, maxCount: config.batchSize, maxBytes: config.batchBytes, size: \.size,
                                      together: { $0.receivedAt == $1.receivedAt })
        var done = 0
        let services = SweepServices()  // built once for every group
        for group in groups {
            var items: [BatchItem] = []
            for r in group {
                let path = spool.archivePath(r.archiveName)
                // A sweep killed between recording a message and moving its file leaves it in
                // spool/new (the next sweep finishes the move): the same bytes serve here.
                let data = FileManager.default.contents(atPath: path)
                    ?? FileManager.default.contents(atPath: spool.newPath(r.spoolName)).flatMap {
                        SHA256.hex([UInt8]($0)) == r.digest ? $0 : nil
                    }
                guard let data else {
                    logger.error("archived message missing; not rendered", metadata: ["id": "\(r.envelopeID)", "file": "\(path)"])
                    summary.failed += 1
                    continue
                }
                switch intake.check([UInt8](data), now: r.receivedAt) {
                case .success(let accepted) where accepted.envelope.id == r.envelopeID:
                    items.append(BatchItem(spoolName: r.spoolName, digest: r.digest, size: data.count, outcome: .accepted(accepted)))
                case .success(let accepted):
                    logger.error("archived file holds another message; not rendered",
                                 metadata: ["id": "\(r.envelopeID)", "file": "\(path)", "holds": "\(accepted.envelope.id)"])
                    summary.failed += 1
                case .failure(let rejection):
                    logger.error("archived message no longer opens; not rendered", metadata: [
                        "id": "\(r.envelopeID)", "file": "\(path)", "reason": "\(rejection.code.rawValue)", "why": "\(rejection.sentence)"])
                    summary.failed += 1
                }
            }
            guard let receivedAt = group.first?.receivedAt, !items.isEmpty else {
                done += group.count
                progress(done, records.count)
                continue
            }
            let ids = items.flatMap { item -> [String] in
                guard case .accepted(let a) = item.outcome else { return [] }
                return a.envelope.recipients.map { MailboxWriter.messageID(envelopeID: a.envelope.id, address: $0) }
            }
            let before = try store.deliveries(messageIDs: ids)
            var writes = BatchWrites()
            let context = SweepContext(config: config, spool: spool, store: store, now: receivedAt, logger: logger, services: services)
            try stage.run(&items, writes: &writes, context: context)
            for item in items {
                if case .rejected(let r) = item.outcome {
                    logger.error("archived message cannot be rendered", metadata: ["file": "\(item.spoolName)", "why": "\(r.sentence)"])
                    summary.failed += 1
                }
            }
            for d in writes.deliveries {
                if before[d.messageID]?.renderDigest == d.renderDigest && before[d.messageID]?.entry == d.entry {
                    summary.unchanged += 1
                } else {
                    summary.rewritten += 1
                }
            }
            summary.mailQueued += writes.outbox.count
            // Only what changed is recorded again; an unchanged delivery's row stays as it is.
            writes.deliveries.removeAll { before[$0.messageID]?.entry == $0.entry }
            try store.record(accepted: [], rejected: [], writes: writes)
            done += group.count
            progress(done, records.count)
        }
        return summary
    }
}
