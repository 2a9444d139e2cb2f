// The portal's configuration (spoolrun.toml). See DESIGN §3 for the keys outside checks
// rely on; docs/operations.md lists them all.
import Foundation
import Tunnel

public struct SpoolrunConfig: Sendable {
    public struct KeyPairPaths: Sendable, Equatable {
        public var key: String
        public var cert: String
    }

    public var file: String
    // [paths]
    public var spool: String
    public var www: String
    public var state: String
    public var logs: String
    // [tunnel]
    public var recipientAddress: String
    public var senderAddress: String
    public var recipientKeys: [KeyPairPaths]
    public var gatewayCerts: [String]
    public var maxAgeDays: Int
    // [limits]
    public var maxMessageBytes: Int
    public var batchSize: Int
    /// A batch also closes before it would hold more bytes of tunnel files than this (a
    /// batch's parsed messages are in memory together; a larger file is a batch of its own).
    public var batchBytes: Int = 64 * 1_048_576
    public var workers: Int
    // [portal]
    public var portalURL: String
    public var readReceipts: Bool
    public var showSubject: Bool
    /// OTP mode: whether the portal also holds a readable copy of the message next to the
    /// PDF's password (portal.otp_portal_copy, default true).
    public var otpPortalCopy: Bool = true
    public var retentionDays: Int
    public var quotaMB: Int
    /// The way back (DESIGN §12): how a first contact gets its password, how recipients act.
    public var wayBack = WayBackSettings()
    // [spool]
    /// How long spool/archive keeps a tunnel file (reprocess needs it); at least the retention.
    public var archiveDays: Int = 365
    /// How long spool/failed keeps a quarantined file and the store its rejection row
    /// (spool.failed_days), and how many bytes spool/failed may hold (spool.failed_max_mb):
    /// junk sent to the tunnel address cannot fill the disk.
    public var failedDays: Int = 30
    public var failedMaxBytes: Int = 1024 * 1_048_576
    /// Sweeps that may meet an error about one file that may pass before it is quarantined.
    public var maxAttempts: Int = 5
    // [mail]
    public var mailFrom: String
    public var sendmail: String
    /// The key that seals outbox payloads at rest (Outbox.swift).
    public var outboxKey: String
    /// The display name of mail.from.
    public var mailFromName: String
    /// A directory of template overrides (Sources/Render/Templates names), if any.
    public var templates: String?
    /// After this long (from queueing, or from an administrator's retry) an undelivered
    /// mail is marked failed: kept and reported, never dropped.
    public var giveUpAfter: TimeInterval
    /// One run of the sendmail command may take this long; then it is killed and counts as a failure.
    public var mailTimeout: TimeInterval
    // [metrics]
    /// Where each sweep writes its Prometheus metrics (node_exporter's textfile collector
    /// reads *.prom files); nil writes none.
    public var metricsTextfile: String? = nil

    public static var defaultPath: String {
        ProcessInfo.processInfo.environment["SPOOLRUN_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "/etc/spoolrun/spoolrun.toml"
    }

    public static func load(path: String) throws -> SpoolrunConfig {
        let root = try ConfigReader.load(path: path)
        let dir = root.directory

        let paths = try root.section("paths")
        let spool = try paths?.path("spool") ?? root.resolve("spool")
        let www = try paths?.path("www") ?? root.resolve("www")
        let state = try paths?.path("state") ?? root.resolve("state")
        let logs = try paths?.path("logs") ?? root.resolve("logs")
        try paths?.finish()

        guard let tunnel = try root.section("tunnel") else {
            throw ConfigError(file: path, key: "tunnel", problem: "section [tunnel] is required")
        }
        let recipientAddress = try tunnel.requiredString("recipient_address")
        let senderAddress = try tunnel.requiredString("sender_address")
        for (key, value) in [("recipient_address", recipientAddress), ("sender_address", senderAddress)]
        where !EmailAddress.isValid(value) {
            throw tunnel.error(key, "\"\(value)\" is not an email address")
        }
        let keys = try tunnel.tableArray("recipient_keys") { t in
            KeyPairPaths(key: try t.path("key") ?? { throw t.error("key", "is required") }(),
                         cert: try t.path("cert") ?? { throw t.error("cert", "is required") }())
        } ?? []
        guard !keys.isEmpty else { throw tunnel.error("recipient_keys", "must list at least one {key, cert} pair") }
        let gatewayCerts = (try tunnel.stringArray("gateway_certs") ?? []).map(tunnel.resolve)
        guard !gatewayCerts.isEmpty else { throw tunnel.error("gateway_certs", "must list at least one pinned certificate") }
        let maxAge = try tunnel.int("max_age_days", range: 1...3650) ?? 7
        try tunnel.finish()

        let limits = try root.section("limits")
        let maxMB = try limits?.int("max_message_mb", range: 1...2048) ?? 50
        let batch = try limits?.int("batch_size", range: 1...100_000) ?? 256
        let batchMB = try limits?.int("batch_mb", range: 1...65_536) ?? 64
        let workers = try limits?.int("workers", range: 1...256) ?? ProcessInfo.processInfo.activeProcessorCount
        try limits?.finish()

        let portal = try root.section("portal")
        let url = try portal?.string("url") ?? "http://127.0.0.1:8080/"
        let readReceipts = try portal?.bool("read_receipts") ?? true
        let showSubject = try portal?.bool("show_subject") ?? false
        let otpPortalCopy = try portal?.bool("otp_portal_copy") ?? true
        let retention = try portal?.int("retention_days", range: 1...36500) ?? 90
        let quota = try portal?.int("quota_mb", range: 1...1_000_000) ?? 1024
        let wayBack = try portal.map(WayBackSettings.read) ?? WayBackSettings()
        try portal?.finish()
        if !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
            throw ConfigError(file: path, key: "portal.url", problem: "must start with https:// or http://")
        }

        let mail = try root.section("mail")
        let from = try mail?.string("from") ?? senderAddress
        let sendmail = try mail?.string("sendmail") ?? "/usr/sbin/sendmail"
        let outboxKey = try mail?.path("outbox_key") ?? root.resolve("keys/outbox.key")
        let fromName = try mail?.string("from_name") ?? "Secure mail portal"
        let templates = try mail?.path("templates")
        let giveUp = try mail?.duration("give_up_after", range: 60...(365 * 86400)) ?? 5 * 86400
        let timeout = try mail?.duration("timeout", range: 1...3600) ?? 60
        try mail?.finish()
        if !EmailAddress.isValid(from) {
            throw ConfigError(file: path, key: "mail.from", problem: "\"\(from)\" is not an email address")
        }

        let spoolSection = try root.section("spool")
        let archiveDays = try spoolSection?.int("archive_days", range: 1...36500) ?? max(365, retention)
        let failedDays = try spoolSection?.int("failed_days", range: 1...36500) ?? 30
        let failedMaxMB = try spoolSection?.int("failed_max_mb", range: 1...1_000_000) ?? 1024
        let maxAttempts = try spoolSection?.int("max_attempts", range: 1...100) ?? 5
        try spoolSection?.finish()
        if archiveDays < retention {
            throw ConfigError(file: path, key: "spool.archive_days",
                              problem: "is \(archiveDays) days but must be at least portal.retention_days (\(retention)): reprocess renders mailboxes from the archive")
        }

        let metrics = try root.section("metrics")
        let metricsTextfile = try metrics?.path("textfile")
        try metrics?.finish()
        try root.finish()
        _ = dir

        var config = SpoolrunConfig(
            file: path, spool: spool, www: www, state: state, logs: logs,
            recipientAddress: EmailAddress.normalize(recipientAddress),
            senderAddress: EmailAddress.normalize(senderAddress),
            recipientKeys: keys, gatewayCerts: gatewayCerts, maxAgeDays: maxAge,
            maxMessageBytes: maxMB * 1024 * 1024, batchSize: batch, workers: workers,
            portalURL: url, readReceipts: readReceipts, showSubject: showSubject, otpPortalCopy: otpPortalCopy,
            retentionDays: retention, quotaMB: quota, archiveDays: archiveDays, mailFrom: from, sendmail: sendmail, outboxKey: outboxKey,
            mailFromName: fromName, templates: templates, giveUpAfter: TimeInterval(giveUp), mailTimeout: TimeInterval(timeout),
            metricsTextfile: metricsTextfile)
        config.batchBytes = batchMB * 1_048_576
        config.failedDays = failedDays
        config.failedMaxBytes = failedMaxMB * 1_048_576
        config.maxAttempts = maxAttempts
        config.wayBack = wayBack
        return config
    }
}

/// The gateway side's configuration (gateway/gateway.toml), read by `spoolrun wrap`.
public struct GatewayConfig: Sendable {
    public var file: String
    public var webmailRecipient: String
    public var webmailSender: String
    public var senderKey: String
    public var senderCert: String
    public var recipientCerts: [String]
    /// CipherMail's webmail settings, for `spoolrun gateway filter` (issue 7).
    public var routing = GatewayRoutingSettings(enabled: true, onlyIfMandatory: true, otpEnabled: false, readReceipt: .never)
    /// How a message is recognised as must-encrypt (default: the subject tag "[secure]").
    public var mandatory: GatewayTrigger = .subjectTag("[secure]")
    /// How a message asks for OTP-PDF delivery (default: the subject tag "[otp]").
    public var otpPDF: GatewayTrigger = .subjectTag("[otp]")
    /// A file of addresses and domains that receive encrypted mail directly.
    public var directRecipients: String?
    /// A file of addresses and domains that get every encrypted message as an OTP PDF.
    public var otpRecipients: String?
    /// Who stands in as the sender of messages from the null sender <> (delivery reports,
    /// read receipts) that go to webmail: the portal mails them password notices.
    public var postmaster: String?
    /// Where the filter remembers the parts it has sent (default: `journal` beside gateway.toml).
    public var journal: String
    /// The command for both outputs (`SENDMAIL -i -f FROM -- RCPT...`).
    public var sendmail = "/usr/sbin/sendmail"

    public static func load(path: String) throws -> GatewayConfig {
        let root = try ConfigReader.load(path: path)
        guard let g = try root.section("gateway") else {
            throw ConfigError(file: path, key: "gateway", problem: "section [gateway] is required")
        }
        let recipient = try g.requiredString("webmail_recipient")
        let sender = try g.requiredString("webmail_sender")
        for (key, value) in [("webmail_recipient", recipient), ("webmail_sender", sender)]
        where !EmailAddress.isValid(value) {
            throw g.error(key, "\"\(value)\" is not an email address")
        }
        let key = try g.path("sender_key") ?? { throw g.error("sender_key", "is required") }()
        let cert = try g.path("sender_cert") ?? { throw g.error("sender_cert", "is required") }()
        let rcpt = try g.path("recipient_cert") ?? { throw g.error("recipient_cert", "is required") }()
        let receipt = try g.boolOrWord("read_receipt", words: [ReadReceiptPolicy.whenAsked.rawValue]).flatMap(ReadReceiptPolicy.init) ?? .never
        let routing = GatewayRoutingSettings(enabled: try g.bool("enabled") ?? true, onlyIfMandatory: try g.bool("only_if_mandatory") ?? true,
                                             otpEnabled: try g.bool("otp_enabled") ?? false, readReceipt: receipt)
        func trigger(_ key: String, _ fallback: GatewayTrigger) throws -> GatewayTrigger {
            guard let text = try g.string(key) else { return fallback }
            guard let t = GatewayTrigger.parse(text) else {
                throw g.error(key, "must be \"always\", \"subject:TAG\" or \"header:NAME: VALUE\", not \"\(text)\"")
            }
            return t
        }
        let mandatory = try trigger("mandatory", .subjectTag("[secure]"))
        let otp = try trigger("otp_pdf", .subjectTag("[otp]"))
        let direct = try g.path("direct_recipients")
        let otpList = try g.path("otp_recipients")
        let postmaster = try g.string("postmaster")
        if let postmaster, !EmailAddress.isValid(postmaster) {
            throw g.error("postmaster", "\"\(postmaster)\" is not an email address")
        }
        let journal = try g.path("journal") ?? g.resolve("journal")
        let sendmail = try g.string("sendmail") ?? "/usr/sbin/sendmail"
        try g.finish()
        try root.finish()
        var config = GatewayConfig(file: path, webmailRecipient: recipient, webmailSender: sender,
                                   senderKey: key, senderCert: cert, recipientCerts: [rcpt], journal: journal)
        config.routing = routing
        config.mandatory = mandatory
        config.otpPDF = otp
        config.directRecipients = direct
        config.otpRecipients = otpList
        config.postmaster = postmaster.map(EmailAddress.normalize)
        config.sendmail = sendmail
        return config
    }
}
