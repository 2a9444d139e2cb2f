// Makes tunnel messages with independent implementations (the openssl CLI and Python's
// cryptography package) through Tests/Support/tunnel_factory.py, and test keys with openssl.
import Foundation

public struct TunnelFactory: Sendable {
    /// Folder of the test keys made by `tunnel_factory.py keys` (see that script for names).
    public let keys: String

    /// Makes the full set of test keys once per process: CA, gateway RSA/EC, CA-issued,
    /// attacker with the pinned subject, TLS-only, another tunnel recipient.
    public static let shared: TunnelFactory = {
        let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("spoolrun-testkeys-\(getpid())")
        try? FileManager.default.removeItem(atPath: dir)
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try! Shell.check("python3", [Paths.tunnelFactory, "keys", "--dir", dir], timeout: 120)
        atexit { try? FileManager.default.removeItem(atPath: TunnelFactory.sharedKeysPath) }
        return TunnelFactory(keys: dir)
    }()

    private static var sharedKeysPath: String {
        (NSTemporaryDirectory() as NSString).appendingPathComponent("spoolrun-testkeys-\(getpid())")
    }

    public func key(_ name: String) -> String { keys.appending(path: "\(name).key") }
    public func cert(_ name: String) -> String { keys.appending(path: "\(name).crt") }

    /// Runs `tunnel_factory.py make` with `arguments` and writes to `out`.
    public func make(_ arguments: [String], out: String) throws {
        try Shell.check("python3", [Paths.tunnelFactory, "make"] + arguments + ["--out", out], timeout: 120)
    }

    /// Arguments for a message signed by `signer` (a key/cert name here) to `recipientCert`.
    public func signed(by signer: String, to recipientCert: String, from: String, to address: String) -> [String] {
        ["--signer-key", key(signer), "--signer-cert", cert(signer), "--recipient-cert", recipientCert,
         "--from", from, "--to", address]
    }
}
