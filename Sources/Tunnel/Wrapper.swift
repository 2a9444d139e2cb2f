// `spoolrun wrap`: the gateway side of the tunnel. Builds the envelope and payload, signs
// with the webmail-sender key, encrypts to the webmail-recipient certificate (DESIGN §4).
import Foundation
import Crypto
import Mail

public struct WrapOptions: Sendable {
    public var recipients: [String]
    public var sender: String?
    public var readReceipt = false
    public var otpPDF = false
    public var passwords: [String: String] = [:]
    public var expires: Date?
    public var cipher: TunnelCipher = .aes256gcm
    /// The envelope id (default: random). The gateway filter derives it from the message, so
    /// that a part sent twice after a crash is refused by the portal as a replay.
    public var id: String?

    public init(recipients: [String]) { self.recipients = recipients }
}

public struct WrapError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// The gateway's side of the tunnel: the addresses of DESIGN §4, the pair it signs with and
/// the certificates it encrypts to (files; the key is checked like every private key).
public struct TunnelSender: Sendable {
    public var webmailRecipient: String
    public var webmailSender: String
    public var senderKey: String
    public var senderCert: String
    public var recipientCerts: [String]

    public init(webmailRecipient: String, webmailSender: String, senderKey: String, senderCert: String, recipientCerts: [String]) {
        self.webmailRecipient = webmailRecipient
        self.webmailSender = webmailSender
        self.senderKey = senderKey
        self.senderCert = senderCert
        self.recipientCerts = recipientCerts
    }
}

public enum Wrapper {
    public static func wrap(_ original: [UInt8], sender config: TunnelSender, options: WrapOptions,
                            now: Date = Date()) throws -> [UInt8] {
        guard !original.isEmpty else { throw WrapError(message: "the original message on standard input is empty") }
        let sender: String
        if let s = options.sender {
            sender = s
        } else {
            let from = (try? OuterTunnelMessage.parse(original))?.from ?? []
            guard let first = from.first else {
                throw WrapError(message: "the original message has no From address; give --from")
            }
            // The sender gets read receipts and first-contact passwords: never guess it from
            // a From field that holds several addresses (or a name that reads as a group).
            guard from.count == 1 else {
                throw WrapError(message: "the original message's From field holds \(from.count) addresses; give --from with the real sender")
            }
            sender = first
        }
        guard EmailAddress.isValid(sender) else { throw WrapError(message: "--from \(sender) is not an email address") }
        guard !options.recipients.isEmpty else { throw WrapError(message: "give at least one --to address") }
        for r in options.recipients where !EmailAddress.isValid(r) {
            throw WrapError(message: "--to \(r) is not an email address")
        }
        let recipients = options.recipients.map(EmailAddress.normalize)
        for address in options.passwords.keys where !recipients.contains(EmailAddress.normalize(address)) {
            throw WrapError(message: "--password is given for \(address), which is not a --to recipient")
        }
        // The portal would quarantine the envelope as malformed-envelope: say so here, where
        // the admin can still choose another password (or none, for a generated one).
        for (address, password) in options.passwords.sorted(by: { $0.key < $1.key }) {
            let normalized = EmailAddress.normalize(address)
            if password.isEmpty {
                throw WrapError(message: "--password for \(normalized) is empty; give ADDR=PASSWORD, or leave it out and spoolrun makes one")
            }
            if let weakness = PasswordFloor.weakness(of: password, for: normalized) {
                throw WrapError(message: "--password for \(normalized) \(weakness); choose a stronger one, or leave it out and spoolrun makes one")
            }
        }

        let envelope = TunnelEnvelope(
            id: options.id ?? randomToken(24), created: now, sender: EmailAddress.normalize(sender), recipients: recipients,
            readReceipt: options.readReceipt, delivery: options.otpPDF ? .otpPDF : .webmail, expires: options.expires,
            passwords: Dictionary(options.passwords.map { (EmailAddress.normalize($0.key), $0.value) },
                                  uniquingKeysWith: { $1 }))
        let payload = try TunnelPayload.build(envelopeJSON: envelope.json(), original: original,
                                              boundary: "spoolrun-" + randomToken(32))

        try KeyFiles.checkPrivateKeyPermissions(config.senderKey)
        let key = try KeyFiles.loadPrivateKey(config.senderKey)
        let cert = try KeyFiles.loadCertificate(config.senderCert, role: "gateway sender")
        guard cert.matches(key) else {
            throw WrapError(message: "\(config.senderCert) does not belong to the key \(config.senderKey)")
        }
        let recipientCerts = try config.recipientCerts.map { try KeyFiles.loadCertificate($0, role: "tunnel recipient") }
        let sealed = try TunnelSealer(signerKey: key, signerCertificate: cert, recipients: recipientCerts,
                                      cipher: options.cipher).seal(payload)

        let domain = config.webmailSender.split(separator: "@").last.map(String.init) ?? "localhost"
        var header = ""
        header += "From: \(config.webmailSender)\r\n"
        header += "To: \(config.webmailRecipient)\r\n"
        header += "Subject: spoolrun tunnel\r\n"
        header += "Date: \(rfc5322Date(now))\r\n"
        header += "Message-ID: <\(randomToken(24))@\(domain)>\r\n"
        return Array(header.utf8) + sealed
    }

    package static func randomToken(_ length: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var rng = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(rng.next(upperBound: UInt64(alphabet.count)))] })
    }

    package static func rfc5322Date(_ date: Date) -> String { UTCTime.rfc5322(date) }
}
