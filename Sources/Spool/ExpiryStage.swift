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
        let day: TimeInterval = 86_400
        let store = context.store
        let due = try store.deliveriesToExpire(now: context.now,
                                               retainedSince: context.now.addingTimeInterval(-Double(context.config.retentionDays) * day))
        if !due.isEmpty {
            let www = PortalFiles(root: context.config.www)
            let writer = MailboxWriter(www: www, digestKey: [])
            let going = Set(due.map { "\($0.delivery.mailboxID)/\($0.delivery.messageID)" })
            for mailbox in Set(due.map(\.delivery.mailboxID)) {
                let staying = try store.deliveries(mailboxID: mailbox).filter { !going.contains("\($0.mailboxID)/\($0.messageID)") }
                try writer.writeIndex(mailboxID: mailbox, deliveries: staying)
            }
            for (d, reason) in due {
                let dir = www.mailboxPath(d.mailboxID).appendingPathComponent(d.messageID)
                if FileSystem.exists(dir) { try FileManager.default.removeItem(atPath: dir) }
                context.logger.info("message expired; removed from its mailbox", metadata: [
                    "step": "expire", "id": "\(d.envelopeID)", "message": "\(d.messageID.prefix(12))", "reason": "\(reason)"])
            }
            try FileSystem.syncFileSystem(containing: www.root)
            try store.recordExpired(due, now: context.now)
        }

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
