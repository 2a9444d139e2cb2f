// The setup wizard (`spoolrun setup --dir D`, DESIGN §3): keys and certificates for both
// ends of the tunnel, the portal config, the gateway config, the spool and an nginx config.
import Foundation
import Crypto

public struct SetupOptions: Sendable {
    public var directory: String
    public var portalURL: String = "http://127.0.0.1:8080/"
    public var listen: String = "127.0.0.1:8080"
    public var recipientAddress: String?
    public var senderAddress: String?
    public var gatewayCert: String?
    public var spool: String?
    public var www: String?
    /// Where the portal app's files are (default: PortalApp.locate()).
    public var app: String?

    public init(directory: String) { self.directory = directory }
}

public struct SetupError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

public struct Installation: Sendable {
    public let root: String

    public init(root: String) { self.root = root }
    public var config: String { path("spoolrun.toml") }
    public var keys: String { path("keys") }
    public var gateway: String { path("gateway") }
    public var state: String { path("state") }
    public var logs: String { path("logs") }
    public var nginxConfig: String { path("nginx.conf") }
    public var gatewayConfig: String { (gateway as NSString).appendingPathComponent("gateway.toml") }
    public func path(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
}

public enum Setup {
    public static func run(_ options: SetupOptions) throws -> Installation {
        let root = absolute(options.directory)
        let inst = Installation(root: root)
        for existing in [inst.config, inst.keys, inst.gateway, inst.state]
        where FileSystem.exists(existing) {
            throw SetupError(message: "\(root) already holds an installation (\(existing) exists); refusing to overwrite it")
        }
        guard let url = URL(string: options.portalURL), let scheme = url.scheme, ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty else {
            throw SetupError(message: "--portal-url \(options.portalURL) is not an http(s) URL")
        }
        try validateListen(options.listen)
        let domain = mailDomain(forHost: host)
        let recipient = EmailAddress.normalize(options.recipientAddress ?? "webmail@\(domain)")
        let sender = EmailAddress.normalize(options.senderAddress ?? "webmail-sender@\(domain)")
        for (flag, value) in [("--recipient-address", recipient), ("--sender-address", sender)]
        where !EmailAddress.isValid(value) {
            throw SetupError(message: "\(flag) \(value) is not an email address")
        }
        // Read a given gateway certificate before anything is written.
        let givenGatewayCert: Certificate? = try options.gatewayCert.map {
            do { return try Certificate(contentsOf: absolute($0)) } catch {
                throw SetupError(message: "--gateway-cert: \(error)")
            }
        }

        let spool = options.spool.map(absolute) ?? inst.path("spool")
        let www = options.www.map(absolute) ?? inst.path("www")
        // A setup that fails half-way removes what it made, so that it can simply be run
        // again (it refuses to overwrite an installation, even a partial one).
        let rootExisted = FileSystem.exists(root)
        let ours = [inst.config, inst.keys, inst.gateway, inst.state, inst.logs, inst.nginxConfig]
            + [spool, www].filter { $0.hasPrefix(root + "/") && !FileSystem.exists($0) }
        do {
            return try create(inst, options: options, spool: spool, www: www, recipient: recipient, sender: sender,
                              givenGatewayCert: givenGatewayCert)
        } catch {
            if rootExisted {
                for path in ours { try? FileManager.default.removeItem(atPath: path) }
            } else {
                try? FileManager.default.removeItem(atPath: root)
            }
            throw error
        }
    }

    private static func create(_ inst: Installation, options: SetupOptions, spool: String, www: String,
                               recipient: String, sender: String, givenGatewayCert: Certificate?) throws -> Installation {
        let root = inst.root
        try FileSystem.makeDirectory(root, mode: 0o755)
        try FileSystem.makeDirectory(inst.keys, mode: 0o700)
        try FileSystem.makeDirectory(inst.gateway, mode: 0o700)
        try FileSystem.makeDirectory(inst.state, mode: 0o700)
        try FileSystem.makeDirectory(inst.logs, mode: 0o750)
        try FileSystem.makeDirectory(www, mode: 0o755)
        try SpoolDirectory(root: spool).ensureLayout()

        // The webmail-recipient pair: the portal decrypts with it; the gateway encrypts to it.
        let tunnelKey = try PrivateKey.generate(.rsa2048)
        let tunnelCert = try CertificateFactory.selfSigned(
            key: tunnelKey, profile: .init(commonName: "spoolrun tunnel recipient", email: recipient, purpose: .encryption))
        try FileSystem.writeAtomically(tunnelKey.pkcs8PEM, to: inst.path("keys/tunnel-recipient.key"), mode: 0o600)
        try FileSystem.writeAtomically(tunnelCert.pem, to: inst.path("keys/tunnel-recipient.crt"), mode: 0o644)
        try FileSystem.writeAtomically(tunnelCert.pem, to: inst.path("gateway/tunnel-recipient.crt"), mode: 0o644)

        // The webmail-sender pair: made here unless the gateway already has one.
        let gatewayCert: Certificate
        if let given = givenGatewayCert {
            gatewayCert = given
        } else {
            let key = try PrivateKey.generate(.rsa2048)
            gatewayCert = try CertificateFactory.selfSigned(
                key: key, profile: .init(commonName: "spoolrun gateway sender", email: sender, purpose: .signing))
            try FileSystem.writeAtomically(key.pkcs8PEM, to: inst.path("gateway/gateway-sender.key"), mode: 0o600)
            try FileSystem.writeAtomically(gatewayCert.pem, to: inst.path("gateway/gateway-sender.crt"), mode: 0o644)
        }
        try FileSystem.writeAtomically(gatewayCert.pem, to: inst.path("keys/gateway-sender.crt"), mode: 0o644)
        _ = try OutboxKey.loadOrCreate(path: inst.path("keys/outbox.key"))

        try FileSystem.writeAtomically(
            InstallationFiles.portalConfig(root: root, spool: spool, www: www, recipient: recipient, sender: sender,
                                           portalURL: options.portalURL),
            to: inst.config, mode: 0o640)
        try FileSystem.writeAtomically(
            InstallationFiles.gatewayConfig(recipient: recipient, sender: sender, ownKey: givenGatewayCert == nil),
            to: inst.gatewayConfig, mode: 0o600)
        try FileSystem.writeAtomically(
            InstallationFiles.nginxConfig(root: root, www: www, listen: options.listen),
            to: inst.nginxConfig, mode: 0o644)
        if let app = PortalApp.locate(explicit: options.app) {
            try PortalApp.install(from: app, to: www)
        } else if let explicit = options.app {
            throw SetupError(message: "--app \(explicit) does not hold the portal app (index.html, assets/app.js)")
        } else {
            throw SetupError(message: "the portal app (www/index.html, www/assets/) was not found; give --app DIR")
        }
        return inst
    }

    static func absolute(_ path: String) -> String {
        let p = path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
        return (p as NSString).standardizingPath
    }

    /// Addresses need a dotted domain; a bare host name or an IP address gets a local one.
    static func mailDomain(forHost host: String) -> String {
        let isIP = host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
        return (host.contains(".") && !isIP) ? host.lowercased() : "spoolrun.localhost"
    }

    static func validateListen(_ listen: String) throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
              (1...65535).contains(port), colon != listen.startIndex else {
            throw SetupError(message: "--listen \(listen) must be HOST:PORT, e.g. 127.0.0.1:8080")
        }
    }
}
