// What rendering into mailboxes needs that lasts a whole sweep (or reprocess run): the web
// root and its published parameters, the outbox key and what derives from it, the composer
// with its templates. Built once, on the first batch that has a message, and shared by every
// batch after it (issue 16: not rebuilt per batch).
import Foundation
import Crypto

/// The sweep's rendering dependencies.
struct MailboxServices: Sendable {
    let www: PortalFiles
    let installationSalt: [UInt8]
    let outboxKey: OutboxKey
    let composer: MailComposer
    let receipts: ReceiptTokens
    let otpPasswords: OTPPasswords
    let writer: MailboxWriter

    init(config: SpoolrunConfig, store: StateStore) throws {
        www = PortalFiles(root: config.www)
        installationSalt = try store.installationSalt()
        try www.writeParameters(installationSalt: installationSalt)
        outboxKey = try OutboxKey.loadOrCreate(path: config.outboxKey)
        composer = try MailComposer(config: config, key: outboxKey)
        receipts = try ReceiptTokens(key: outboxKey)
        otpPasswords = try OTPPasswords(key: outboxKey)
        writer = MailboxWriter(www: www, digestKey: try outboxKey.derived("render-digest"))
    }
}

/// Holds the services of one sweep, made on first use. A class, so that every copy of the
/// sweep's context shares one.
public final class SweepServices: @unchecked Sendable {
    // @unchecked Sendable: `mailbox` is read and written only under `lock`.
    private let lock = NSLock()
    private var mailbox: MailboxServices?

    public init() {}

    func mailbox(config: SpoolrunConfig, store: StateStore) throws -> MailboxServices {
        lock.lock()
        defer { lock.unlock() }
        if let mailbox { return mailbox }
        let made = try MailboxServices(config: config, store: store)
        mailbox = made
        return made
    }
}
