// `spoolrun gateway filter` (issue 7): the gateway side as a Postfix content filter. It reads
// one message with its envelope, decides per recipient (GatewayRouting) whether it goes to
// the portal through the tunnel or passes through, and hands each part to sendmail:
//   - one tunnel message per delivery kind (webmail, otp-pdf), from webmail_sender to
//     webmail_recipient, holding the original with the trigger's subject tag removed;
//   - the original, unchanged but for a trace field in front, for the recipients passed
//     through (a second copy, marked, for those left to the gateway's own PDF encryption).
// A recipient routed to webmail is only ever in a tunnel part: no failure sends it plaintext.
// Parts already sent are remembered (GatewayJournal), so Postfix's retry after a temporary
// failure sends only what is missing.
import Foundation
import Mail
import Tunnel

public enum GatewayFilterResult: Sendable, Equatable {
    /// Every part was handed over (sysexits 0); `warnings`: what went wrong without losing
    /// anything (a part sent but not recorded in the journal).
    case accepted(warnings: [String])
    /// Try again later (EX_TEMPFAIL, 75): sendmail failed, a key could not be read, the disk is full.
    case deferred(String)
    /// The message can never be accepted as it is (EX_DATAERR, 65); nothing was sent.
    case refused(String)

    public var exitStatus: Int32 {
        switch self {
        case .accepted: return 0
        case .deferred: return 75
        case .refused: return 65
        }
    }
}

/// One output of the filter: who gets which form of the message.
public struct GatewayPart: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case tunnel(delivery: TunnelEnvelope.Delivery, readReceipt: Bool)
        case passThrough(gatewayPDF: Bool)
    }

    public var kind: Kind
    public var recipients: [String]

    public var isTunnel: Bool {
        if case .tunnel = kind { return true }
        return false
    }

    /// Names the part in the journal and in messages.
    public var label: String {
        switch kind {
        case .tunnel(let delivery, let receipt): return "tunnel \(delivery.rawValue)\(receipt ? " read-receipt" : "")"
        case .passThrough(let pdf): return pdf ? "pass-through gateway-pdf" : "pass-through"
        }
    }
}

public struct GatewayFilter: Sendable {
    /// The trace field put in front of passed-through copies.
    public static let traceField = "X-Spoolrun-Gateway"

    public let config: GatewayConfig
    let direct: AddressList
    let otp: AddressList
    let journal: GatewayJournal
    let send: @Sendable ([UInt8], String, [String]) -> SendmailOutcome

    /// Reads the recipient lists and opens the journal: a failure here is the
    /// administrator's to fix, so the caller defers the message rather than bounce it.
    public init(config: GatewayConfig, send: (@Sendable ([UInt8], String, [String]) -> SendmailOutcome)? = nil) throws {
        self.config = config
        direct = try config.directRecipients.map(AddressList.load) ?? AddressList()
        otp = try config.otpRecipients.map(AddressList.load) ?? AddressList()
        journal = try GatewayJournal(directory: config.journal)
        let command = SendmailCommand(config.sendmail, timeout: 300)
        self.send = send ?? { command.send($0, from: $1, to: $2) }
    }

    /// The parts for these recipients of this message, in the order they are sent.
    public func plan(message: [UInt8], recipients: [String]) -> [GatewayPart] {
        plan(recipients: recipients, header: HeaderBlock(message))
    }

    func plan(recipients: [String], header: HeaderBlock) -> [GatewayPart] {
        let subject = header.decodedValue("Subject")
        let fields = header.decodedFields
        let mandatory = config.mandatory.matches(subject: subject, headers: fields)
        let otpAsked = config.otpPDF.matches(subject: subject, headers: fields)
        let asksReceipt = fields.contains { $0.name.caseInsensitiveCompare("Disposition-Notification-To") == .orderedSame }
        var parts: [GatewayPart] = []
        var seen = Set<String>()
        for recipient in recipients where seen.insert(EmailAddress.normalize(recipient)).inserted {
            let kind: GatewayPart.Kind
            // The tunnel address itself never goes into a tunnel: a tunnel message that comes
            // back through a mis-set re-injection passes on instead of looping.
            if EmailAddress.normalize(recipient) == EmailAddress.normalize(config.webmailRecipient) {
                kind = .passThrough(gatewayPDF: false)
            } else {
                let traits = MessageTraits(encryptionMandatory: mandatory, otpRequested: otpAsked || otp.contains(recipient),
                                           asksForReadReceipt: asksReceipt)
                switch GatewayRouting.route(config.routing, traits, directCapable: direct.contains(recipient)) {
                case .passThrough(let pdf): kind = .passThrough(gatewayPDF: pdf)
                case .webmail(let delivery, let receipt): kind = .tunnel(delivery: delivery, readReceipt: receipt)
                }
            }
            // Passed through as given; the portal knows its recipients normalised.
            var part = GatewayPart(kind: kind, recipients: [recipient])
            if part.isTunnel { part.recipients = [EmailAddress.normalize(recipient)] }
            if let i = parts.firstIndex(where: { $0.kind == kind }) {
                parts[i].recipients += part.recipients
            } else {
                parts.append(part)
            }
        }
        // Tunnel parts first: if the run stops half-way, the encrypted copies are the ones
        // already on their way. A tunnel envelope names at most 100 recipients: more make
        // several tunnel messages.
        var tunnels: [GatewayPart] = []
        for part in parts where part.isTunnel {
            for start in stride(from: 0, to: part.recipients.count, by: TunnelEnvelope.maxRecipients) {
                let chunk = Array(part.recipients[start..<min(start + TunnelEnvelope.maxRecipients, part.recipients.count)])
                tunnels.append(GatewayPart(kind: part.kind, recipients: chunk))
            }
        }
        return tunnels + parts.filter { !$0.isTunnel }
    }

    public func run(message: [UInt8], sender: String, recipients: [String], now: Date = Date()) -> GatewayFilterResult {
        guard !message.isEmpty else { return .refused("the message on standard input is empty") }
        guard !recipients.isEmpty else {
            // A master.cf without ${recipient}: the administrator's to fix, the mail waits.
            return .deferred("no recipients were given after -- (master.cf's pipe argv must end with: -- ${recipient})")
        }
        let header = HeaderBlock(message)
        let parts = plan(recipients: recipients, header: header)
        // Delivery reports and read receipts come from the null sender; in the tunnel, the
        // postmaster stands in as the one who gets notices about them.
        let tunnelSender = sender.isEmpty || sender == "<>" ? (config.postmaster ?? "") : sender
        // Everything that makes the message unacceptable is found before anything is sent.
        for part in parts where part.isTunnel {
            guard !tunnelSender.isEmpty else {
                return .refused("a message from the null sender <> cannot go to webmail recipients (\(part.recipients.joined(separator: ", "))) unless gateway.toml names a postmaster to receive their password notices and read receipts")
            }
            guard EmailAddress.isValid(tunnelSender) else { return .refused("the envelope sender \(tunnelSender) is not an address the portal can write to") }
            for r in part.recipients where !EmailAddress.isValid(r) {
                return .refused("the recipient \(r) is routed to webmail but is not an address the portal can hold a mailbox for")
            }
        }

        journal.prune(now: now)
        let original = GatewayJournal.Original(message)
        // The copy the tunnel carries, made once for all tunnel parts.
        let tunnelled = parts.contains(where: \.isTunnel) ? withoutSubjectTags(message, header: header) : message
        var failures: [String] = []
        var warnings: [String] = []
        for part in parts {
            let key = GatewayJournal.key(route: part.label, sender: sender, recipients: part.recipients, original: original)
            if journal.contains(key) { continue }
            let bytes: [UInt8]
            let envelope: (from: String, to: [String])
            do {
                switch part.kind {
                case .tunnel(let delivery, let receipt):
                    var options = WrapOptions(recipients: part.recipients)
                    options.sender = tunnelSender
                    options.readReceipt = receipt
                    options.otpPDF = delivery == .otpPDF
                    options.id = "gw-" + key.prefix(40)
                    bytes = try Wrapper.wrap(tunnelled, config: config, options: options, now: now)
                    envelope = (config.webmailSender, [config.webmailRecipient])
                case .passThrough(let pdf):
                    bytes = header.prepending(Self.traceField, "\(pdf ? "gateway-pdf" : "pass-through"); \(UTCTime.rfc5322(now))")
                    envelope = (sender, part.recipients)
                }
            } catch {
                failures.append("the \(part.label) part for \(part.recipients.joined(separator: ", ")) could not be made: \(error)")
                continue
            }
            let outcome = send(bytes, envelope.from, envelope.to)
            guard outcome.sent else {
                failures.append("\(config.sendmail) \(outcome.summary) (the \(part.label) part for \(part.recipients.joined(separator: ", ")))")
                continue
            }
            // Sent: if it cannot be remembered, a retry would send it again, but the other
            // parts still go out now, and a duplicate tunnel part is refused as a replay.
            do { try journal.record(key, now: now) } catch {
                warnings.append("sent the \(part.label) part but could not record it in \(config.journal): \(error)")
            }
        }
        return failures.isEmpty ? .accepted(warnings: warnings) : .deferred((failures + warnings).joined(separator: "; "))
    }

    /// The original with the triggers' subject tags taken out of its Subject field, every
    /// other byte as it was.
    private func withoutSubjectTags(_ message: [UInt8], header: HeaderBlock) -> [UInt8] {
        guard let subject = header.decodedValue("Subject") else { return message }
        var shown = subject
        for trigger in [config.mandatory, config.otpPDF] where trigger.matches(subject: shown, headers: []) {
            shown = trigger.strippingTag(from: shown)
        }
        return shown == subject ? message : header.replacingValue(of: "Subject", with: shown)
    }
}
