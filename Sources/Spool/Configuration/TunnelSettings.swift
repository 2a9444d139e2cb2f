// The portal's and the gateway's settings, handed to the Tunnel module: the intake checks and
// the tunnel opener from spoolrun.toml, the sender's identity from gateway.toml.
import Foundation
import Crypto
import Tunnel

extension Intake {
    public init(config: SpoolrunConfig, opener: TunnelOpener) {
        self.init(recipientAddress: config.recipientAddress, senderAddress: config.senderAddress,
                  maxAgeDays: config.maxAgeDays, opener: opener)
    }
}

extension KeyFiles {
    /// The portal's tunnel opener: every configured key pair, every pinned certificate.
    public static func tunnelOpener(for config: SpoolrunConfig) throws -> TunnelOpener {
        let pairs = try config.recipientKeys.map { paths -> TunnelKeyPair in
            let key = try loadPrivateKey(paths.key)
            let cert = try loadCertificate(paths.cert, role: "tunnel recipient")
            guard cert.matches(key) else {
                throw KeyFileError(path: paths.cert, problem: "does not belong to the private key \(paths.key)")
            }
            return TunnelKeyPair(key: key, certificate: cert)
        }
        let pinned = try config.gatewayCerts.map { try loadCertificate($0, role: "pinned gateway") }
        return TunnelOpener(keyPairs: pairs, pinned: pinned)
    }
}

extension GatewayConfig {
    /// What `spoolrun wrap` and the gateway filter sign and encrypt with.
    public var tunnelSender: TunnelSender {
        TunnelSender(webmailRecipient: webmailRecipient, webmailSender: webmailSender, senderKey: senderKey,
                     senderCert: senderCert, recipientCerts: recipientCerts)
    }
}

extension Wrapper {
    public static func wrap(_ original: [UInt8], config: GatewayConfig, options: WrapOptions, now: Date = Date()) throws -> [UInt8] {
        try wrap(original, sender: config.tunnelSender, options: options, now: now)
    }
}
