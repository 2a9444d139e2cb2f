// A real installation made by `spoolrun setup` in a scratch folder, with helpers to drop
// tunnel files into its spool, run sweeps and read the results.
import Foundation

public final class TestInstallation {
    public let scratch: TemporaryDirectory
    public let root: String
    public static let recipientAddress = "webmail@portal.test"
    public static let senderAddress = "webmail-sender@gateway.test"

    /// Runs `spoolrun setup`; `gatewayCert` pins an existing certificate.
    /// `listen` is where the generated nginx.conf serves (tests that start nginx pass a free port).
    public init(gatewayCert: String? = nil, listen: String = "127.0.0.1:18080", extraArguments: [String] = []) throws {
        scratch = try TemporaryDirectory()
        root = scratch.file("inst")
        var args = ["setup", "--dir", root, "--recipient-address", Self.recipientAddress,
                    "--sender-address", Self.senderAddress, "--listen", listen]
        if let gatewayCert { args += ["--gateway-cert", gatewayCert] }
        try Shell.check(Paths.spoolrun, args + extraArguments)
    }

    public var config: String { root.appending(path: "spoolrun.toml") }
    /// The gateway's files: setup writes them beside the installation (D-gateway), not in it.
    public var gateway: String { root + "-gateway" }
    public var gatewayConfig: String { gateway.appending(path: "gateway.toml") }
    public var tunnelCert: String { root.appending(path: "keys/tunnel-recipient.crt") }
    public var spool: String { root.appending(path: "spool") }
    public func spool(_ sub: String) -> String { spool.appending(path: sub) }

    /// Delivers like an MTA: write into spool/tmp, then rename into spool/new.
    @discardableResult
    public func deliver(_ bytes: Data, name: String) throws -> String {
        let tmp = spool("tmp").appending(path: name)
        try bytes.write(to: URL(fileURLWithPath: tmp))
        let new = spool("new").appending(path: name)
        guard rename(tmp, new) == 0 else { throw CocoaError(.fileWriteUnknown) }
        return new
    }

    @discardableResult
    public func deliver(file: String, name: String) throws -> String {
        try deliver(try Data(contentsOf: URL(fileURLWithPath: file)), name: name)
    }

    /// One sweep; returns the process result (exit status and log).
    @discardableResult
    public func sweep(timeout: TimeInterval = 120) throws -> ProcessResult {
        try Shell.run(Paths.spoolrun, ["run", "--config", config], timeout: timeout)
    }

    public func wrap(_ original: Data, arguments: [String]) throws -> Data {
        try Shell.check(Paths.spoolrun, ["wrap", "--config", gatewayConfig] + arguments, stdin: original).stdout
    }

    public func names(in sub: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: spool(sub))) ?? []).sorted()
    }

    /// Temporary files (`.NAME.PID.N.tmp`, what an atomic write leaves if it is cut short)
    /// anywhere under the installation's `sub` folder, as paths relative to it.
    public func temporaryFiles(under sub: String = "www") -> [String] {
        let names = FileManager.default.enumerator(atPath: root.appending(path: sub))?.compactMap { $0 as? String } ?? []
        return names.filter { ($0 as NSString).lastPathComponent.hasSuffix(".tmp") }.sorted()
    }

    /// The reason code (first line) of a quarantined file, if it is in spool/failed.
    public func reasonCode(_ name: String) -> String? {
        guard let text = try? String(contentsOfFile: spool("failed").appending(path: name + ".reason"), encoding: .utf8)
        else { return nil }
        return text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init)
    }

    public func status() throws -> [String: Any] {
        let r = try Shell.check(Paths.spoolrun, ["status", "--config", config, "--json"])
        return (try JSONSerialization.jsonObject(with: r.stdout)) as? [String: Any] ?? [:]
    }

    /// Replaces `key = value` lines in spoolrun.toml (a crude edit, enough for tests).
    public func setConfig(_ key: String, _ value: String) throws {
        var text = try String(contentsOfFile: config, encoding: .utf8)
        var lines = text.components(separatedBy: "\n")
        if let i = lines.firstIndex(where: { $0.hasPrefix("\(key) =") }) {
            lines[i] = "\(key) = \(value)"
        } else {
            throw CocoaError(.fileReadUnknown)
        }
        text = lines.joined(separator: "\n")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
    }

    public static let sampleOriginal = Data("""
        From: Alice <alice@corp.test>\r
        To: Bob <bob@ext.test>\r
        Subject: Quarterly report\r
        Date: Wed, 25 Nov 2026 10:00:00 +0000\r
        Message-ID: <sample@corp.test>\r
        \r
        The figures are attached.\r

        """.utf8)
}
