// `spoolrun recall ID [--recipient ADDR]` (issue 6): takes a delivered message out of its
// recipients' mailboxes (sealed files, index entry, and with its row the read-receipt token),
// under the sweep lock, and records the recall. The archive copy stays until its own expiry.
import Foundation
import Logging
import Tunnel

public struct Recall {
    let config: SpoolrunConfig
    let logger: Logger
    let clock: @Sendable () -> Date

    public init(config: SpoolrunConfig, logger: Logger, clock: @escaping @Sendable () -> Date = Date.init) {
        self.config = config
        self.logger = logger
        self.clock = clock
    }

    /// Returns the addresses whose copy was removed.
    public func run(envelopeID: String, recipient: String? = nil) throws -> [String] {
        let lock = try Reprocess.lock(config, logger: logger)
        defer { withExtendedLifetime(lock) {} }
        let store = try StateStore(directory: config.state)
        let address = recipient.map { EmailAddress.normalize($0) }
        let copies = try store.deliveries(envelopeID: envelopeID).filter { address == nil || $0.address == address }
        guard !copies.isEmpty else {
            throw AdminCommandError(description: "message \(envelopeID) has no delivered copy" + (address.map { " in the mailbox of \($0)" } ?? "")
                                 + " (already recalled or expired, or not an envelope id; see the sweep's log)")
        }
        try MailboxRemoval(config: config, store: store, logger: logger).remove(copies.map { ($0, RemovalReason.recall) }, now: clock())
        return copies.map(\.address).sorted()
    }
}
