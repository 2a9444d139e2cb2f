// The named steps of a sweep (DESIGN §1) and the interfaces later features plug into.
// Steps run in this order; parse, sanitize and queue run inside RenderStage; receipts and
// deliver are sweep stages (ReceiptStage, DeliverStage); expire comes next.
import Foundation
import Logging
import Tunnel

public enum PipelineStep: String, Sendable, CaseIterable {
    case lock, intake, parse, sanitize, render, queue, archive, receipts, deliver, expire
}

/// A file of the current batch and what became of it.
public struct BatchItem: Sendable {
    public enum Outcome: Sendable {
        case accepted(AcceptedTunnel)
        case rejected(Rejection)
        /// Set aside in spool/held, not refused (over a mailbox quota): the sentence says why.
        case held(String)
        /// Recorded by an earlier sweep that stopped before moving the file: only the move
        /// is left to do.
        case recoveredAccepted(MessageRecord)
        case recoveredRejected(RejectionRecord)
        /// Not a message to take (vanished, or replaced by a non-regular file); left alone.
        case skipped(String)
        /// Not handled this sweep because of an error about this file that may pass (the
        /// sentence says which): left in spool/new, its attempt counted, and quarantined as
        /// render-failed after spool.max_attempts sweeps (Sweep, SweepFault).
        case retry(String)
    }

    public let spoolName: String
    public let digest: String
    public let size: Int
    public var outcome: Outcome
}

/// A step that works on every accepted message of a batch, after intake and before the
/// batch is committed (parse, sanitize, render, queue). A message it cannot handle becomes
/// a rejection of the batch item; what it writes must be idempotent, since a crash before
/// the commit makes the next sweep run it again.
public protocol BatchStage: Sendable {
    var step: PipelineStep { get }
    func run(_ items: inout [BatchItem], writes: inout BatchWrites, context: SweepContext) throws
}

/// State rows a batch stage adds; they are committed in the batch's one transaction,
/// together with the accepted and rejected files.
public struct BatchWrites: Sendable {
    public var recipients: [RecipientRecord] = []
    public var outbox: [OutboxEntry] = []
    public var deliveries: [DeliveryRecord] = []
    public init() {}
}

/// A step that runs once per sweep after all batches (receipts, deliver, expire).
public protocol SweepStage: Sendable {
    var step: PipelineStep { get }
    func run(context: SweepContext) throws
}

/// What every step may use.
public struct SweepContext: Sendable {
    public let config: SpoolrunConfig
    public let spool: SpoolDirectory
    public let store: StateStore
    public let now: Date
    public var logger = Logger(label: "spoolrun")
    /// What the steps build once per sweep (keys, composer, templates), shared by its batches.
    public var services = SweepServices()
}

/// Runs `body` for each index on `workers` threads and returns the results in order.
enum Parallel {
    static func map<T: Sendable>(_ count: Int, workers: Int, _ body: @Sendable (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let results = ResultSlots<T>(count: count)
        let lanes = max(1, min(workers, count))
        DispatchQueue.concurrentPerform(iterations: lanes) { lane in
            var i = lane
            while i < count {
                results.store(body(i), at: i)
                i += lanes
            }
        }
        return results.values()
    }
}

/// Fixed slots filled by different threads, each slot by exactly one of them.
private final class ResultSlots<T>: @unchecked Sendable {
    // @unchecked Sendable: every index is written by one lane only, and all lanes finish
    // (concurrentPerform returns) before `values()` reads them.
    private let slots: UnsafeMutableBufferPointer<T?>
    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }
    deinit {
        slots.deinitialize()
        slots.deallocate()
    }
    func store(_ value: T, at index: Int) { slots[index] = value }
    func values() -> [T] { slots.map { $0! } }
}

/// Values handed over to the lanes of `Parallel.map`, each taken exactly once by the lane
/// that handles its index; the slot lets go of it then, so the taker holds the only reference.
final class Handover<T>: @unchecked Sendable {
    // @unchecked Sendable: index i is read and cleared by the one lane that handles i.
    private let slots: UnsafeMutableBufferPointer<T?>
    init(_ values: [T]) {
        slots = .allocate(capacity: values.count)
        _ = slots.initialize(from: values.map { Optional($0) })
    }
    deinit {
        slots.deinitialize()
        slots.deallocate()
    }
    func take(_ index: Int) -> T {
        guard let value = slots[index] else { preconditionFailure("slot \(index) taken twice") }
        slots[index] = nil
        return value
    }
}
