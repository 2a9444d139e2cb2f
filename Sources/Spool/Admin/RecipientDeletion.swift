// `spoolrun recipient delete ADDR` (issue 6): a recipient's mailbox, key bundles and state go,
// and what they were sent stays out of any mailbox made later for the address (issue 15).
import Foundation
import Logging
import Tunnel

/// `spoolrun recipient delete ADDR`: the mailbox, its key bundles and the recipient's state
/// go, under the sweep lock (state rows first: a crash then leaves only files nobody can
/// reach or open, removed by running the command again). A later message to the address
/// meets them anew (first contact).
public struct RecipientDeletion {
    let config: SpoolrunConfig
    let logger: Logger
    let clock: @Sendable () -> Date

    public init(config: SpoolrunConfig, logger: Logger, clock: @escaping @Sendable () -> Date = Date.init) {
        self.config = config
        self.logger = logger
        self.clock = clock
    }

    /// Returns how many delivered messages the mailbox held.
    public func run(_ address: String) throws -> Int {
        let address = EmailAddress.normalize(address)
        let lock = try Reprocess.lock(config, logger: logger)
        defer { withExtendedLifetime(lock) {} }
        let store = try StateStore(directory: config.state)
        guard let recipient = try store.recipients([address])[address] else {
            throw AdminCommandError(description: "\(address) has no mailbox (see spoolrun recipient list)")
        }
        let messages = try store.deleteRecipient(address: address, mailboxID: recipient.mailboxID, now: clock())
        let www = PortalFiles(root: config.www)
        let mailbox = www.mailboxPath(recipient.mailboxID)
        if FileSystem.exists(mailbox) { try FileManager.default.removeItem(atPath: mailbox) }
        _ = try www.removeBundles(mailboxID: recipient.mailboxID)
        logger.info("recipient deleted: mailbox, key bundles and state removed", metadata: ["recipient": "\(address)", "messages": "\(messages)"])
        return messages
    }
}
