// Step "expire" of each sweep (DESIGN §8): a delivery older than portal.retention_days, or
// whose envelope's `expires` has passed, leaves its mailbox: its sealed files, its index
// entry and (with its row) its read-receipt token. An archive copy older than
// spool.archive_days is removed. Logged, and counted by `status`.
//
// Order, for crash safety: the index without the expiring entries first, then the files,
// then the rows. A crash before the rows are gone leaves them selected again next sweep.
import Foundation
import Logging

public struct ExpiryStage: SweepStage {
    public let step = PipelineStep.expire
    public init() {}

    public func run(context: SweepContext) throws {
        try FaultPoint.reach("expiry")
        let day: TimeInterval = 86_400
        let store = context.store
        let due = try store.deliveriesToExpire(now: context.now,
                                               retainedSince: context.now.addingTimeInterval(-Double(context.config.retentionDays) * day))
        try MailboxRemoval(config: context.config, store: store, logger: context.logger).remove(due, now: context.now)

        let archives = try store.archivesToExpire(keptSince: context.now.addingTimeInterval(-Double(context.config.archiveDays) * day))
        guard !archives.isEmpty else { return }
        let archive = SpoolDirectory(root: context.config.spool).archive
        for m in archives {
            let path = (archive as NSString).appendingPathComponent(m.archiveName)
            if unlink(path) != 0 && errno != ENOENT { throw FileSystemError(path: path, operation: "unlink", errno: errno) }
            context.logger.info("archive copy expired; removed", metadata: ["step": "expire", "id": "\(m.envelopeID)", "file": "\(path)"])
        }
        try store.recordArchiveRemoved(envelopeIDs: archives.map(\.envelopeID), now: context.now)
    }
}
