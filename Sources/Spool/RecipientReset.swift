// `spoolrun recipient reset ADDR [--password-to ADDR]` (issue 6): a new key pair and a new
// password for a recipient who lost theirs. Under the sweep lock: the new key bundle is
// written, the state store takes the new public key and queues the password notice (one
// transaction), every message of theirs is sealed again from the archive (reprocess of that
// recipient: the render digest covers the key, so every copy is rewritten), and only then
// are the old key bundles removed. Interrupted before the end, `spoolrun reprocess
// --recipient ADDR` finishes it; the old password may open the old bundle until then.
import Foundation
import GRDB
import Logging
import Crypto

public struct RecipientReset {
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

    public struct Outcome: Sendable {
        /// Who gets the new password.
        public let notified: String
        public let resealed: ReprocessSummary
        public let oldBundlesRemoved: Int
    }

    public func run(_ address: String, passwordTo: String? = nil) throws -> Outcome {
        let address = EmailAddress.normalize(address)
        let lock = try Reprocess.lock(config)
        defer { withExtendedLifetime(lock) {} }
        let store = try StateStore(directory: config.state)
        guard let old = try store.recipients([address])[address] else {
            throw ReprocessError(description: "\(address) has no mailbox (see spoolrun recipient list)")
        }
        let to: String
        if let passwordTo {
            guard EmailAddress.isValid(passwordTo) else { throw ReprocessError(description: "--password-to \(passwordTo) is not an email address") }
            to = EmailAddress.normalize(passwordTo)
        } else if let sender = try store.messages(.recipient(address)).last?.sender {
            to = sender
        } else {
            throw ReprocessError(description: "\(address) has no message whose sender could pass the new password on; give --password-to ADDR")
        }
        let now = clock()
        let www = PortalFiles(root: config.www)
        let contact = try FirstContact(www: www, installationSalt: try store.installationSalt(), iterations: loginIterations)
            .register(address, password: nil, now: now, mailboxID: old.mailboxID)
        let password = contact.generatedPassword!
        let composer = try MailComposer(config: config, key: try OutboxKey.loadOrCreate(path: config.outboxKey))
        try store.replaceRecipientKey(address: address, publicKey: contact.recipient.publicKey,
                                      notice: try composer.resetNotice(recipient: address, password: password, to: to, now: now))
        logger.info("recipient reset: new key pair and password; password notice queued",
                    metadata: ["recipient": "\(address)", "notice_to": "\(to)"])
        let resealed = try Reprocess(config: config, logger: logger, loginIterations: loginIterations, clock: clock)
            .render(ReprocessOptions(selection: .recipient(address)))
        var removed = 0
        let keys = www.root.appendingPathComponent("k")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: keys)) ?? [] where name.hasSuffix(".json") {
            let path = keys.appendingPathComponent(name)
            guard path != contact.bundleFile, let data = FileManager.default.contents(atPath: path),
                  let bundle = try? KeyBundle(json: [UInt8](data)), bundle.mailboxID == old.mailboxID else { continue }
            if unlink(path) != 0 { throw FileSystemError(path: path, operation: "unlink", errno: errno) }
            removed += 1
        }
        return Outcome(notified: to, resealed: resealed, oldBundlesRemoved: removed)
    }
}

extension StateStore {
    /// The recipient's new public key and the notice with their new password, together.
    func replaceRecipientKey(address: String, publicKey: [UInt8], notice: OutboxEntry) throws {
        try wrap {
            try pool.write { db in
                try db.execute(sql: "UPDATE recipients SET public_key = ? WHERE address = ?", arguments: [Data(publicKey), address])
                try queue([notice], db)
            }
        }
    }
}

/// `spoolrun recipient delete ADDR`: the mailbox, its key bundles and the recipient's state
/// go, under the sweep lock (state rows first: a crash then leaves only files nobody can
/// reach or open, removed by running the command again). A later message to the address
/// meets them anew (first contact).
public struct RecipientDeletion {
    let config: SpoolrunConfig
    let logger: Logger

    public init(config: SpoolrunConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Returns how many delivered messages the mailbox held.
    public func run(_ address: String) throws -> Int {
        let address = EmailAddress.normalize(address)
        let lock = try Reprocess.lock(config)
        defer { withExtendedLifetime(lock) {} }
        let store = try StateStore(directory: config.state)
        guard let recipient = try store.recipients([address])[address] else {
            throw ReprocessError(description: "\(address) has no mailbox (see spoolrun recipient list)")
        }
        let messages = try store.deleteRecipient(address: address, mailboxID: recipient.mailboxID)
        let www = PortalFiles(root: config.www)
        let mailbox = www.mailboxPath(recipient.mailboxID)
        if FileSystem.exists(mailbox) { try FileManager.default.removeItem(atPath: mailbox) }
        let keys = www.root.appendingPathComponent("k")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: keys)) ?? [] where name.hasSuffix(".json") {
            let path = keys.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path), let bundle = try? KeyBundle(json: [UInt8](data)),
                  bundle.mailboxID == recipient.mailboxID else { continue }
            if unlink(path) != 0 { throw FileSystemError(path: path, operation: "unlink", errno: errno) }
        }
        logger.info("recipient deleted: mailbox, key bundles and state removed", metadata: ["recipient": "\(address)", "messages": "\(messages)"])
        return messages
    }
}

extension StateStore {
    /// Deletes the recipient and their deliveries; returns how many deliveries there were.
    func deleteRecipient(address: String, mailboxID: String) throws -> Int {
        try wrap {
            try pool.write { db in
                let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deliveries WHERE mailbox_id = ?", arguments: [mailboxID]) ?? 0
                try db.execute(sql: "DELETE FROM deliveries WHERE mailbox_id = ?", arguments: [mailboxID])
                try db.execute(sql: "DELETE FROM recipients WHERE address = ?", arguments: [address])
                return n
            }
        }
    }
}
