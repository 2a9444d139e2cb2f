// `spoolrun setup --rotate --dir D` (issue 6): a new tunnel-recipient pair next to the old
// one. The new pair goes first in tunnel.recipient_keys (every pair listed decrypts), and
// the gateway's copy of the recipient certificate (tunnel-recipient.crt in the gateway
// folder, if it is still on this host) becomes the new one, so new tunnel mail is encrypted to it while mail already on its way, and the
// archive, still open with the old key. docs/operations.md has the steps.
import Foundation
import Crypto
import Tunnel

public enum TunnelKeyRotation {
    public struct Result: Sendable {
        public let key: String
        public let cert: String
        /// nil when the gateway folder is no longer on this host: give `cert` to the gateway.
        public let gatewayCert: String?
    }

    /// `gatewayDir`: the gateway folder setup wrote (default D-gateway, or D/gateway from an
    /// older setup), if it is still here.
    public static func rotate(directory: String, gatewayDir: String? = nil) throws -> Result {
        let root = Setup.absolute(directory)
        let inst = Installation(root: root, gateway: gatewayDir.map(Setup.absolute))
        if let gatewayDir, !FileSystem.exists(inst.gateway) {
            throw SetupError(message: "--gateway-dir \(gatewayDir) does not exist")
        }
        let config = try SpoolrunConfig.load(path: inst.config)
        let text = try String(contentsOfFile: inst.config, encoding: .utf8)
        var lines = text.components(separatedBy: "\n")
        guard let i = lines.firstIndex(where: { $0.hasPrefix("recipient_keys = [") && $0.hasSuffix("]") }) else {
            throw SetupError(message: "\(inst.config): tunnel.recipient_keys is not on one line as setup wrote it; add the new pair by hand")
        }
        let stamp = UTCTime.rfc3339(Date()).filter { $0.isNumber }
        let keyName = "keys/tunnel-recipient-\(stamp).key", certName = "keys/tunnel-recipient-\(stamp).crt"
        guard !FileSystem.exists(inst.path(keyName)) else { throw SetupError(message: "\(inst.path(keyName)) exists already; try again in a second") }

        let key = try PrivateKey.generate(.rsa2048)
        let cert = try CertificateFactory.selfSigned(
            key: key, profile: .init(commonName: "spoolrun tunnel recipient", email: config.recipientAddress, purpose: .encryption))
        try FileSystem.writeAtomically(key.pkcs8PEM, to: inst.path(keyName), mode: 0o600)
        try FileSystem.writeAtomically(cert.pem, to: inst.path(certName), mode: 0o644)

        // The new pair first; the old ones stay, so mail on its way and the archive still open.
        lines[i] = lines[i].replacingOccurrences(of: "recipient_keys = [", with: "recipient_keys = [{ key = \"\(keyName)\", cert = \"\(certName)\" }, ")
        try FileSystem.writeAtomically(Array(lines.joined(separator: "\n").utf8), to: inst.config, mode: 0o640)
        do {
            _ = try SpoolrunConfig.load(path: inst.config)
        } catch {
            try FileSystem.writeAtomically(Array(text.utf8), to: inst.config, mode: 0o640)
            throw SetupError(message: "the rotated configuration did not load (\(error)); \(inst.config) is as it was")
        }
        // Only now that the portal decrypts with either key does the gateway switch.
        let folder = [inst.gateway, inst.legacyGateway].first { FileSystem.exists($0) }
        let gatewayCert = folder.map { ($0 as NSString).appendingPathComponent("tunnel-recipient.crt") }
        if let gatewayCert { try FileSystem.writeAtomically(cert.pem, to: gatewayCert, mode: 0o644) }
        return Result(key: inst.path(keyName), cert: inst.path(certName), gatewayCert: gatewayCert)
    }
}
