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
        let log = ReceiptLog(path: Self.logPath(context.config))
        // A backlog (a flood of junk reads, sweeps that did not run) is read slice by slice to
        // its end, each slice committed with its position, so memory stays bounded and a real
        // receipt behind the junk is still answered in this sweep. Bounded: what the log and
        // its rotated siblings held at the start, plus what nginx appends meanwhile up to as
        // much again, then the rest waits for the next sweep.
        let siblings = log.rotatedSiblings()
        let backlog = siblings.map(\.1.size).reduce(ReceiptLog.identity(log.path)?.size ?? 0, +)
        let maxSlices = 2 * (Int(backlog) / log.sliceBytes + 1) + siblings.count + 1
        var total = (lines: 0, receipts: 0, slices: 0)
        for _ in 0..<maxSlices {
            let position = try context.store.receiptLogPosition()
            let (lines, next) = try log.read(from: position)
            guard let next, next != position || !lines.isEmpty else { break }
            total.receipts += try answer(lines, position: next, context: context)
            total.lines += lines.count
            total.slices += 1
        }
        guard total.slices > 0 else { return }
        context.logger.info("receipt log read", metadata: ["step": "receipts", "lines": "\(total.lines)",
                                                          "receipts": "\(total.receipts)", "slices": "\(total.slices)"])
    }

    /// Queues the receipts of one slice and commits them with the position after it.
    private func answer(_ lines: [ReceiptLine], position next: ReceiptLogPosition, context: SweepContext) throws -> Int {
        let store = context.store
        var firstRead: [String: Date] = [:]
        for line in lines {
            let hash = ReceiptTokens.hash(line.token)
            firstRead[hash] = min(firstRead[hash] ?? line.time, line.time)
        }
        var reads: [(hash: String, readAt: Date)] = []
        var mdns: [OutboxEntry] = []
        if context.config.readReceipts && !firstRead.isEmpty {
            // The sweep's keys and composer, built once (the render step may have built them).
            let services = try context.services.mailbox(config: context.config, store: store)
            let (tokens, composer) = (services.receipts, services.composer)
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
        return mdns.count
    }
}
