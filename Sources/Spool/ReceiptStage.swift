// Step "receipts" (DESIGN §6): the reads nginx logged since the last sweep become RFC 3798
// disposition notifications to the envelope's sender, one per message and recipient. A
// token that no delivery carries (unknown, forged, or for a message that asked for no
// receipt) is ignored, as is a token already answered; a malformed line is skipped. Nothing
// is queued while `portal.read_receipts` is off, but the log is still read past.
import Foundation
import Logging

public struct ReceiptStage: SweepStage {
    public let step = PipelineStep.receipts
    public init() {}

    public static func logPath(_ config: SpoolrunConfig) -> String {
        (config.logs as NSString).appendingPathComponent("receipts.log")
    }

    public func run(context: SweepContext) throws {
        try FaultPoint.reach("receipts")
        let store = context.store
        let position = try store.receiptLogPosition()
        let (lines, next) = try ReceiptLog(path: Self.logPath(context.config)).read(from: position)
        guard let next, next != position || !lines.isEmpty else { return }

        var firstRead: [String: Date] = [:]
        for line in lines {
            let hash = ReceiptTokens.hash(line.token)
            firstRead[hash] = min(firstRead[hash] ?? line.time, line.time)
        }
        var reads: [(hash: String, readAt: Date)] = []
        var mdns: [OutboxEntry] = []
        if context.config.readReceipts && !firstRead.isEmpty {
            let key = try OutboxKey.loadOrCreate(path: context.config.outboxKey)
            let tokens = try ReceiptTokens(key: key)
            let composer = try MailComposer(config: context.config, key: key)
            let known = try store.deliveries(receiptHashes: Array(firstRead.keys))
            let answered = try store.receiptsAlreadyRead(Array(known.keys))
            for (hash, delivery) in known.sorted(by: { $0.key < $1.key }) where !answered.contains(hash) {
                guard let sealed = delivery.receiptContext, let readAt = firstRead[hash] else { continue }
                let receipt = try tokens.context(sealed: sealed, hash: hash)
                mdns.append(try composer.readReceipt(receipt, readAt: readAt, now: context.now))
                reads.append((hash, readAt))
            }
        }
        try store.recordReceipts(reads, mdns: mdns, position: next, now: context.now)
        context.logger.info("receipt log read", metadata: ["step": "receipts", "lines": "\(lines.count)",
                                                          "receipts": "\(mdns.count)"])
    }
}
