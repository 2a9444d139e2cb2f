// One sweep (`spoolrun run`): lock, then batch by batch take in spool/new, record the batch
// in one transaction, and only then move its files (group commit, DESIGN §8 and §10).
import Foundation
import Crypto
import Logging
import Tunnel

public struct SweepSummary: Sendable, Equatable {
    public var accepted = 0
    public var rejected = 0
    public var skipped = 0
    public var held = 0
    public var ignored = 0
    /// Left in spool/new after an error about the file that may pass, to be tried again.
    public var retrying = 0
    public var durationMS = 0
    /// False when another sweep held the lock and this one did nothing.
    public var ran = true
}

public final class Sweep {
    public let config: SpoolrunConfig
    private let logger: Logger
    private let batchStages: [BatchStage]
    private let sweepStages: [SweepStage]
    private let clock: @Sendable () -> Date

    public init(config: SpoolrunConfig, logger: Logger, batchStages: [BatchStage] = [],
                sweepStages: [SweepStage] = [], clock: @escaping @Sendable () -> Date = Date.init) {
        self.config = config
        self.logger = logger
        self.batchStages = batchStages
        self.sweepStages = sweepStages
        self.clock = clock
    }

    /// The sweep `spoolrun run` performs: every step built so far, in DESIGN §1's order.
    public static func standard(config: SpoolrunConfig, logger: Logger) -> Sweep {
        Sweep(config: config, logger: logger, batchStages: [RenderStage()],
              sweepStages: [ExpiryStage(), FailedRetention(), ReceiptStage(), DeliverStage()])
    }

    /// Runs the sweep. Throws only when the sweep itself cannot run (keys, state store,
    /// spool unreadable, a full or read-only disk: SweepFault); a bad message is quarantined,
    /// or tried again in the next sweep, and the sweep goes on.
    public func run() throws -> SweepSummary {
        ProcessMemory.returnLargeBuffersWhenFreed()
        let started = clock()
        let startTick = DispatchTime.now().uptimeNanoseconds
        guard let lock = try SweepLock.take(config, logger: logger) else {
            logger.info("another sweep is running; nothing to do", metadata: ["step": "lock"])
            var s = SweepSummary()
            s.ran = false
            return s
        }
        defer { withExtendedLifetime(lock) {} }

        let opener = try KeyFiles.tunnelOpener(for: config)
        let spool = SpoolDirectory(root: config.spool)
        try spool.ensureLayout()
        let store = try StateStore(directory: config.state)
        let context = SweepContext(config: config, spool: spool, store: store, now: started, logger: logger)
        let intake = Intake(config: config, opener: opener)

        var summary = SweepSummary()
        do {
            // The listing is taken once: a file renamed into new/ later waits for the next sweep.
            let listing = try spool.listNew()
            summary.ignored = listing.ignored.count
            for entry in listing.ignored {
                logger.warning("not a regular file; left alone", metadata: ["file": "\(entry.name)", "kind": "\(entry.kind)"])
            }
            let batches = Batching.batches(listing.messages, maxCount: config.batchSize, maxBytes: config.batchBytes,
                                           size: { listing.sizes[$0] ?? 0 })
            for names in batches {
                let counts = try runBatch(Array(names), intake: intake, context: context)
                summary.accepted += counts.accepted
                summary.rejected += counts.rejected
                summary.skipped += counts.skipped
                summary.held += counts.held
                summary.retrying += counts.retrying
            }
            // A step that fails for a reason of its own (not the installation's) does not keep
            // the steps after it from running; the sweep still ends failed, so monitoring sees it.
            var failedSteps: [String] = []
            for stage in sweepStages {
                do { try stage.run(context: context) } catch where !SweepFault.isInstallationFault(error) {
                    logger.error("step failed; the other steps go on", metadata: ["step": "\(stage.step.rawValue)", "error": "\(error)"])
                    failedSteps.append("step \(stage.step.rawValue): \(SweepFault.oneLine(error))")
                }
            }
            if !failedSteps.isEmpty { throw SweepFault.StepsFailed(failures: failedSteps) }
        } catch {
            summary.durationMS = Self.elapsedMS(since: startTick)
            try? store.recordSweep(SweepRecord(startedAt: started, durationMS: summary.durationMS, result: "failed",
                                               accepted: summary.accepted, rejected: summary.rejected, error: "\(error)"))
            MetricsTextfile.write(config: config, store: store, now: clock(), logger: logger)
            throw error
        }
        summary.durationMS = Self.elapsedMS(since: startTick)
        try store.recordSweep(SweepRecord(startedAt: started, durationMS: summary.durationMS, result: "ok",
                                          accepted: summary.accepted, rejected: summary.rejected, error: nil))
        // Monitoring never changes the sweep's result: a write error is logged (MetricsTextfile).
        MetricsTextfile.write(config: config, store: store, now: clock(), logger: logger)
        logger.info("sweep done", metadata: ["accepted": "\(summary.accepted)", "rejected": "\(summary.rejected)",
                                             "skipped": "\(summary.skipped)", "retrying": "\(summary.retrying)",
                                             "ms": "\(summary.durationMS)"])
        return summary
    }

    private static func elapsedMS(since tick: UInt64) -> Int {
        Int((DispatchTime.now().uptimeNanoseconds - tick) / 1_000_000)
    }

    // MARK: - One batch

    private func runBatch(_ names: [String], intake: Intake, context: SweepContext) throws
        -> (accepted: Int, rejected: Int, skipped: Int, held: Int, retrying: Int) {
        let spool = context.spool
        let known = try context.store.known(spoolNames: names)
        let attempts = try context.store.attempts(spoolNames: names)
        let now = context.now
        let maxBytes = config.maxMessageBytes

        // Intake: the CPU-bound checks run on every configured core.
        let logger = self.logger
        var items: [BatchItem] = Parallel.map(names.count, workers: config.workers) { i in
            let name = names[i]
            try? FaultPoint.reach("intake")
            let read: SpoolDirectory.ReadOutcome
            do { read = try spool.read(name, maxBytes: maxBytes) } catch {
                // An unreadable file (permissions, I/O error) stays where it is, for the
                // administrator to see; it must not stop the other messages.
                logger.error("cannot read; left in spool/new", metadata: ["file": "\(name)", "error": "\(error)"])
                return BatchItem(spoolName: name, digest: "", size: 0, outcome: .skipped("unreadable"))
            }
            let bytes: [UInt8]
            // `consume`: from here on `bytes` holds the file's only reference, which intake
            // takes over and lets go of early (a tunnel file can be 50 MB).
            switch consume read {
            case .vanished:
                return BatchItem(spoolName: name, digest: "", size: 0, outcome: .skipped("vanished"))
            case .notRegular:
                return BatchItem(spoolName: name, digest: "", size: 0, outcome: .skipped("not a regular file"))
            case .tooLarge(let size):
                let limit = maxBytes / (1024 * 1024)
                return BatchItem(spoolName: name, digest: "", size: size, outcome: .rejected(Rejection(
                    .tooLarge, "The file has \(size) bytes; the limit (limits.max_message_mb) is \(limit) MB.")))
            case .bytes(let read):
                bytes = read
            }
            let digest = SHA256.hex(bytes)
            let size = bytes.count
            if let r = known.accepted[StateStore.key(name, digest)] {
                return BatchItem(spoolName: name, digest: digest, size: size, outcome: .recoveredAccepted(r))
            }
            if let r = known.rejected[StateStore.key(name, digest)] {
                return BatchItem(spoolName: name, digest: digest, size: size, outcome: .recoveredRejected(r))
            }
            let decision: BatchItem.Outcome
            switch intake.check(consume bytes, now: now) {
            case .success(let a): decision = .accepted(a)
            case .failure(let r): decision = .rejected(r)
            }
            return BatchItem(spoolName: name, digest: digest, size: size, outcome: decision)
        }

        try rejectReplays(&items, store: context.store)
        var writes = BatchWrites()
        for stage in batchStages { try stage.run(&items, writes: &writes, context: context) }
        let tried = countAttempts(&items, attempts: attempts, now: now)

        // Record: one transaction for the whole batch.
        var acceptedRecords: [MessageRecord] = []
        var rejectedRecords: [RejectionRecord] = []
        var archiveNames: [String: String] = [:]
        for item in items {
            switch item.outcome {
            case .accepted(let a):
                let archiveName = uniqueName(item.spoolName, digest: item.digest, in: spool.archive)
                archiveNames[item.spoolName] = archiveName
                acceptedRecords.append(MessageRecord(
                    envelopeID: a.envelope.id, spoolName: item.spoolName, archiveName: archiveName,
                    digest: item.digest, sender: a.envelope.sender, recipients: a.envelope.recipients,
                    delivery: a.envelope.delivery.rawValue, readReceipt: a.envelope.readReceipt,
                    created: a.envelope.created, expires: a.envelope.expires, receivedAt: now,
                    signer: a.signerFingerprint, cipher: a.contentEncryption, size: item.size))
            case .rejected(let r):
                rejectedRecords.append(RejectionRecord(spoolName: item.spoolName, digest: item.digest,
                                                       code: r.code, sentence: r.sentence, rejectedAt: now))
            default: break
            }
        }
        try FaultPoint.reach("record")
        try context.store.record(accepted: acceptedRecords, rejected: rejectedRecords, writes: writes)
        // After the batch's commit: a crash in between costs one attempt's count, no more.
        try context.store.recordAttempts(tried, done: items.compactMap { item in
            guard attempts[StateStore.key(item.spoolName, item.digest)] != nil else { return nil }
            switch item.outcome {
            case .accepted, .rejected, .recoveredAccepted, .recoveredRejected: return (item.spoolName, item.digest)
            default: return nil
            }
        })

        // Archive: move the files, now that what they produced is recorded.
        var counts = (accepted: 0, rejected: 0, skipped: 0, held: 0, retrying: 0)
        for item in items {
            try FaultPoint.reach("archive")
            // A move that fails for this file alone leaves it in spool/new, recorded: the next
            // sweep finishes it (recoveredAccepted, recoveredRejected) or holds it again.
            do {
                try settle(item, archiveNames: archiveNames, spool: spool, counts: &counts)
            } catch where !SweepFault.isInstallationFault(error) {
                logger.error("cannot move; left in spool/new for the next sweep",
                             metadata: ["file": "\(item.spoolName)", "error": "\(error)"])
            }
        }
        for dir in [spool.new, spool.archive, spool.failed] { try FileSystem.syncDirectory(dir) }
        return counts
    }

    /// Moves one file of a recorded batch where its outcome says, and counts it.
    private func settle(_ item: BatchItem, archiveNames: [String: String], spool: SpoolDirectory,
                        counts: inout (accepted: Int, rejected: Int, skipped: Int, held: Int, retrying: Int)) throws {
        switch item.outcome {
        case .accepted(let a):
            try finishMove(item.spoolName, to: spool.archivePath(archiveNames[item.spoolName]!), spool: spool)
            counts.accepted += 1
            logger.info("accepted", metadata: ["file": "\(item.spoolName)", "id": "\(a.envelope.id)",
                                               "recipients": "\(a.envelope.recipients.count)",
                                               "cipher": "\(a.contentEncryption)"])
        case .recoveredAccepted(let r):
            try finishMove(item.spoolName, to: spool.archivePath(r.archiveName), spool: spool)
            counts.accepted += 1
            logger.info("accepted (finished after an interrupted sweep)",
                        metadata: ["file": "\(item.spoolName)", "id": "\(r.envelopeID)"])
        case .rejected(let r):
            try quarantine(item.spoolName, r, digest: item.digest, spool: spool)
            counts.rejected += 1
        case .recoveredRejected(let r):
            try quarantine(item.spoolName, Rejection(r.code, r.sentence), digest: item.digest, spool: spool)
            counts.rejected += 1
        case .skipped(let why):
            counts.skipped += 1
            logger.warning("skipped", metadata: ["file": "\(item.spoolName)", "reason": "\(why)"])
        case .held(let why):
            try hold(item.spoolName, why, spool: spool)
            counts.held += 1
        case .retry(let why):
            counts.retrying += 1
            logger.warning("left in spool/new; tried again in the next sweep",
                           metadata: ["file": "\(item.spoolName)", "why": "\(why)"])
        }
    }

    /// Counts this sweep's attempt for each file to try again; one that has had
    /// spool.max_attempts is quarantined instead (render-failed). Returns the attempts to store.
    private func countAttempts(_ items: inout [BatchItem], attempts: [String: AttemptRecord], now: Date) -> [AttemptRecord] {
        var tried: [AttemptRecord] = []
        for i in items.indices {
            guard case .retry(let why) = items[i].outcome else { continue }
            let name = items[i].spoolName, digest = items[i].digest
            let before = attempts[StateStore.key(name, digest)]
            let count = (before?.count ?? 0) + 1
            if count >= config.maxAttempts {
                items[i].outcome = .rejected(Rejection(.renderFailed,
                    "Tried in \(count) sweeps (spool.max_attempts is \(config.maxAttempts)), each time in vain; the last error: \(why)"))
            } else {
                tried.append(AttemptRecord(spoolName: name, digest: digest, count: count, firstAt: before?.firstAt ?? now,
                                           lastAt: now, lastError: why))
            }
        }
        return tried
    }

    /// An envelope id recorded by an earlier sweep, or seen earlier in this batch, is a replay.
    private func rejectReplays(_ items: inout [BatchItem], store: StateStore) throws {
        var ids: [String] = []
        for item in items { if case .accepted(let a) = item.outcome { ids.append(a.envelope.id) } }
        var seen = try store.existingEnvelopeIDs(ids)
        for i in items.indices {
            guard case .accepted(let a) = items[i].outcome else { continue }
            if seen.contains(a.envelope.id) {
                items[i].outcome = .rejected(Rejection(.replay, "The envelope id \(a.envelope.id) was delivered before."))
            } else {
                seen.insert(a.envelope.id)
            }
        }
    }

    /// Moves new/NAME to held/NAME, its reason durable first (as for a quarantine). The file
    /// is not recorded: `spoolrun reprocess --held` puts it back into new/ as it was.
    private func hold(_ name: String, _ why: String, spool: SpoolDirectory) throws {
        try FileSystem.makeDirectory(spool.held, mode: 0o750)
        let short = SpoolDirectory.boundedName(name, reserve: ".reason".utf8.count)
        let target = (spool.held as NSString).appendingPathComponent(short)
        let original = short == name ? "" : "spool-name: \(name)\n"
        try FileSystem.writeAtomically(Array("over-quota\n\(why)\n\(original)".utf8), to: target + ".reason", mode: 0o640, sync: true)
        try finishMove(name, to: target, spool: spool)
        try FileSystem.syncDirectory(spool.held)
        logger.warning("held over quota", metadata: ["file": "\(name)", "why": "\(why)"])
    }

    /// Moves new/NAME to failed/NAME, with NAME.reason beside it. A name too long for
    /// NAME.reason within NAME_MAX is shortened (boundedName), and the .reason's last line
    /// then names the spool file.
    private func quarantine(_ name: String, _ r: Rejection, digest: String, spool: SpoolDirectory) throws {
        let reason = ".reason".utf8.count
        var base = SpoolDirectory.boundedName(name, reserve: reason)
        if FileSystem.exists(spool.failedPath(base)) && !sameFile(spool.newPath(name), spool.failedPath(base)) {
            let clash = digest.isEmpty ? "\(UInt64.random(in: 0...UInt64.max))" : digest
            base = uniqueName(name, digest: clash, in: spool.failed, reserve: reason)
        }
        let target = spool.failedPath(base)
        let shortened = base != name && !base.hasPrefix(name + ".")
        // The reason is durable before the file moves, so a quarantined file always has one.
        try FileSystem.writeAtomically(Array(r.reasonFile(spoolName: shortened ? name : nil).utf8), to: target + ".reason",
                                       mode: 0o640, sync: true)
        try finishMove(name, to: target, spool: spool)
        logger.notice("quarantined", metadata: ["file": "\(name)", "reason": "\(r.code.rawValue)",
                                                "why": "\(r.sentence)"])
    }

    /// Moves new/NAME to `target` without ever replacing another file. If the target is
    /// already this very file (a crash between link and unlink), only the unlink is left.
    private func finishMove(_ name: String, to target: String, spool: SpoolDirectory) throws {
        let source = spool.newPath(name)
        if FileSystem.exists(target) {
            if sameFile(source, target) {
                guard unlink(source) == 0 else { throw FileSystemError(path: source, operation: "unlink", errno: errno) }
                return
            }
            throw FileSystemError(path: target, operation: "move \(name) (target exists)", errno: EEXIST)
        }
        try FileSystem.moveNoReplace(source, to: target)
    }

    private func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        return lstat(a, &sa) == 0 && lstat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev
    }

    /// NAME, or NAME.<digest> when another file already took NAME; either shortened
    /// (boundedName) when it and `reserve` more bytes would pass NAME_MAX.
    private func uniqueName(_ name: String, digest: String, in dir: String, reserve: Int = 0) -> String {
        let plain = SpoolDirectory.boundedName(name, reserve: reserve)
        guard FileSystem.exists((dir as NSString).appendingPathComponent(plain)) else { return plain }
        return SpoolDirectory.boundedName(name, reserve: reserve + 17) + "." + digest.prefix(16)
    }
}
