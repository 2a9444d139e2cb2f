// Taking delivered messages out of mailboxes, for expiry and for recall: the index without
// them first, then their sealed files, then their rows (their read-receipt tokens stop
// counting with the rows), each removal recorded with its reason. A crash before the rows go
// leaves them to be taken out again; nothing is ever shown that should be gone.
import Foundation
import Logging

struct MailboxRemoval {
    let config: SpoolrunConfig
    let store: StateStore
    let logger: Logger

    func remove(_ deliveries: [(delivery: DeliveryRecord, reason: RemovalReason)], now: Date) throws {
        guard !deliveries.isEmpty else { return }
        let www = PortalFiles(root: config.www)
        let writer = MailboxWriter(www: www, digestKey: [])
        let going = Set(deliveries.map { "\($0.delivery.mailboxID)/\($0.delivery.messageID)" })
        for mailbox in Set(deliveries.map(\.delivery.mailboxID)) {
            let staying = try store.deliveries(mailboxID: mailbox).filter { !going.contains("\($0.mailboxID)/\($0.messageID)") }
            try writer.writeIndex(mailboxID: mailbox, deliveries: staying)
        }
        for (d, reason) in deliveries {
            let dir = www.mailboxPath(d.mailboxID).appendingPathComponent(d.messageID)
            if FileSystem.exists(dir) { try FileManager.default.removeItem(atPath: dir) }
            logger.info("message removed from a mailbox", metadata: [
                "id": "\(d.envelopeID)", "message": "\(d.messageID.prefix(12))", "reason": "\(reason.rawValue)"])
        }
        try FileSystem.syncFileSystem(containing: www.root)
        try store.recordExpired(deliveries, now: now)
    }
}
