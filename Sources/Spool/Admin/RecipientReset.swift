// `spoolrun recipient reset ADDR [--password-to ADDR]` (issue 6): a new key pair and a new
// password for a recipient who lost theirs. Under the sweep lock: the new key bundle is
// written, the state store takes the new public key and queues the password notice (one
// transaction), every message of theirs is sealed again from the archive (reprocess of that
// recipient: the render digest covers the key, so every copy is rewritten), and only then
// are the old key bundles removed. Interrupted before the end, `spoolrun reprocess
// --recipient ADDR` finishes it; the old password may open the old bundle until then.
import Foundation
import Logging
import Crypto
import Tunnel

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
        let lock = try Reprocess.lock(config, logger: logger)
        defer { withExtendedLifetime(lock) {} }
        let store = try StateStore(directory: config.state)
        guard let old = try store.recipients([address])[address] else {
            throw AdminCommandError(description: "\(address) has no mailbox (see spoolrun recipient list)")
        }
        let to: String
        if let passwordTo {
            guard EmailAddress.isValid(passwordTo) else { throw AdminCommandError(description: "--password-to \(passwordTo) is not an email address") }
            to = EmailAddress.normalize(passwordTo)
        } else if let sender = try store.messages(.recipient(address)).last?.sender {
            to = sender
        } else {
            throw AdminCommandError(description: "\(address) has no message whose sender could pass the new password on; give --password-to ADDR")
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
        let removed = try www.removeBundles(mailboxID: old.mailboxID, keeping: contact.bundleFile)
        return Outcome(notified: to, resealed: resealed, oldBundlesRemoved: removed)
    }
}
