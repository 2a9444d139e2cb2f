// The setup wizard (`spoolrun setup --dir D`, DESIGN §3): keys and certificates for both
// ends of the tunnel, the portal config, the spool and an nginx config in D, and the gateway's
// files in a folder outside it (default D-gateway), to be carried over to the gateway.
import Foundation
import Crypto
import Tunnel

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
    /// Where the gateway's files go (default: D's sibling D-gateway). Never inside D.
    public var gatewayDir: String?
    /// nginx's own user: setup (as root) hands it D/logs and D/run, nothing else.
    public var nginxUser: String?

    public init(directory: String) { self.directory = directory }
}

public struct SetupError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

public struct Installation: Sendable {
    public let root: String
    /// The gateway's files (its signing key among them): outside the installation, so that
    /// the portal host keeps no key that lets anyone put mail into any mailbox.
    public let gateway: String

    public init(root: String, gateway: String? = nil) {
        self.root = root
        self.gateway = gateway ?? Self.defaultGateway(root: root)
    }

    /// D's sibling "D-gateway" (for /etc/spoolrun: /etc/spoolrun-gateway).
    public static func defaultGateway(root: String) -> String { root + "-gateway" }

    public var config: String { path("spoolrun.toml") }
    public var keys: String { path("keys") }
    /// Where setup put the gateway's files before issue 15; `spoolrun run` warns while a
    /// private key is still there.
    public var legacyGateway: String { path("gateway") }
    public var state: String { path("state") }
    public var logs: String { path("logs") }
    /// nginx's pid file and temporary files: the one folder besides logs/ it writes.
    public var run: String { path("run") }
    public var nginxConfig: String { path("nginx.conf") }
    public var gatewayConfig: String { gatewayFile("gateway.toml") }
    public func gatewayFile(_ name: String) -> String { (gateway as NSString).appendingPathComponent(name) }
    public func path(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
}

public enum Setup {
    public static func run(_ options: SetupOptions) throws -> Installation {
        let root = absolute(options.directory)
        let inst = Installation(root: root, gateway: options.gatewayDir.map(absolute))
        for existing in [inst.config, inst.keys, inst.legacyGateway, inst.state]
        where FileSystem.exists(existing) {
            throw SetupError(message: "\(root) already holds an installation (\(existing) exists); refusing to overwrite it")
        }
        let spool = options.spool.map(absolute) ?? inst.path("spool")
        let www = options.www.map(absolute) ?? inst.path("www")
        for (place, name) in [(root, "the installation"), (www, "the web root"), (spool, "the spool")]
        where inst.gateway == place || inst.gateway.hasPrefix(place + "/") {
            throw SetupError(message: "the gateway folder \(inst.gateway) lies inside \(name) \(place); "
                             + "its signing key must not stay on the portal host: give --gateway-dir a folder outside it")
        }
        if FileSystem.exists(inst.gateway), !((try? FileManager.default.contentsOfDirectory(atPath: inst.gateway)) ?? []).isEmpty {
            throw SetupError(message: "the gateway folder \(inst.gateway) exists and is not empty; refusing to overwrite it (give --gateway-dir)")
        }
        let nginxUser = try options.nginxUser.map(NginxUser.lookUp)
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

        // A setup that fails half-way removes what it made, so that it can simply be run
        // again (it refuses to overwrite an installation, even a partial one).
        let rootExisted = FileSystem.exists(root)
        let gatewayExisted = FileSystem.exists(inst.gateway)
        let ours = [inst.config, inst.keys, inst.state, inst.logs, inst.run, inst.nginxConfig]
            + [spool, www].filter { $0.hasPrefix(root + "/") && !FileSystem.exists($0) }
        do {
            return try create(inst, options: options, spool: spool, www: www, recipient: recipient, sender: sender,
                              givenGatewayCert: givenGatewayCert, nginxUser: nginxUser)
        } catch {
            if gatewayExisted {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: inst.gateway)) ?? [] {
                    try? FileManager.default.removeItem(atPath: (inst.gateway as NSString).appendingPathComponent(name))
                }
            } else {
                try? FileManager.default.removeItem(atPath: inst.gateway)
            }
            if rootExisted {
                for path in ours { try? FileManager.default.removeItem(atPath: path) }
            } else {
                try? FileManager.default.removeItem(atPath: root)
            }
            throw error
        }
    }

    private static func create(_ inst: Installation, options: SetupOptions, spool: String, www: String,
                               recipient: String, sender: String, givenGatewayCert: Certificate?,
                               nginxUser: NginxUser?) throws -> Installation {
        let root = inst.root
        try FileSystem.makeDirectory(root, mode: 0o755)
        try FileSystem.makeDirectory(inst.keys, mode: 0o700)
        try FileSystem.makeDirectory(inst.gateway, mode: 0o700)
        guard chmod(inst.gateway, 0o700) == 0 else { throw FileSystemError(path: inst.gateway, operation: "chmod", errno: errno) }
        try FileSystem.makeDirectory(inst.state, mode: 0o700)
        try FileSystem.makeDirectory(inst.logs, mode: 0o750)
        try FileSystem.makeDirectory(inst.run, mode: 0o700)
        try FileSystem.makeDirectory(www, mode: 0o755)
        try nginxUser?.hand(logs: inst.logs, run: inst.run)
        try SpoolDirectory(root: spool).ensureLayout()

        // The webmail-recipient pair: the portal decrypts with it; the gateway encrypts to it.
        let tunnelKey = try PrivateKey.generate(.rsa2048)
        let tunnelCert = try CertificateFactory.selfSigned(
            key: tunnelKey, profile: .init(commonName: "spoolrun tunnel recipient", email: recipient, purpose: .encryption))
        try FileSystem.writeAtomically(tunnelKey.pkcs8PEM, to: inst.path("keys/tunnel-recipient.key"), mode: 0o600)
        try FileSystem.writeAtomically(tunnelCert.pem, to: inst.path("keys/tunnel-recipient.crt"), mode: 0o644)
        try FileSystem.writeAtomically(tunnelCert.pem, to: inst.gatewayFile("tunnel-recipient.crt"), mode: 0o644)

        // The webmail-sender pair: made here unless the gateway already has one.
        let gatewayCert: Certificate
        if let given = givenGatewayCert {
            gatewayCert = given
        } else {
            let key = try PrivateKey.generate(.rsa2048)
            gatewayCert = try CertificateFactory.selfSigned(
                key: key, profile: .init(commonName: "spoolrun gateway sender", email: sender, purpose: .signing))
            try FileSystem.writeAtomically(key.pkcs8PEM, to: inst.gatewayFile("gateway-sender.key"), mode: 0o600)
            try FileSystem.writeAtomically(gatewayCert.pem, to: inst.gatewayFile("gateway-sender.crt"), mode: 0o644)
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
