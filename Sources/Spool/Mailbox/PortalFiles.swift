// Where the sealed portal files live under www/ (docs/sealed-format.md §2-5), and writing
// them atomically. Everything written here is ciphertext or public parameters.
import Foundation
import Crypto

public struct PortalFiles: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public var parametersPath: String { root.appendingPathComponent("portal.json") }
    public func bundlePath(locator: String) -> String { root.appendingPathComponent("k/\(locator).json") }
    public func mailboxPath(_ mailboxID: String) -> String { root.appendingPathComponent("m/\(mailboxID)") }

    /// www/portal.json: what the browser needs before sign-in.
    public func writeParameters(installationSalt: [UInt8], iterations: Int = SealedFormat.loginIterations) throws {
        let text = "{\"v\":1,\"salt\":\"\(Base64URL.encode(installationSalt))\",\"iterations\":\(iterations)}\n"
        if let existing = FileManager.default.contents(atPath: parametersPath), existing == Data(text.utf8) { return }
        try FileSystem.writeAtomically(Array(text.utf8), to: parametersPath, mode: 0o644)
    }

    /// Removes every key bundle of `mailboxID` (the id is inside each bundle) but `keeping`;
    /// returns how many went. Bundles are named by a locator only the password derives.
    func removeBundles(mailboxID: String, keeping: String? = nil) throws -> Int {
        let keys = root.appendingPathComponent("k")
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: keys)) ?? [] where name.hasSuffix(".json") {
            let path = keys.appendingPathComponent(name)
            guard path != keeping, let data = FileManager.default.contents(atPath: path),
                  let bundle = try? KeyBundle(json: [UInt8](data)), bundle.mailboxID == mailboxID else { continue }
            if unlink(path) != 0 { throw FileSystemError(path: path, operation: "unlink", errno: errno) }
            removed += 1
        }
        return removed
    }

    public func writeBundle(_ bundle: KeyBundle, locator: String) throws {
        // k/ is never listed (nginx autoindex off): a bundle is found only by its locator.
        try FileSystem.makeDirectory(root.appendingPathComponent("k"), mode: 0o755)
        try FileSystem.writeAtomically(bundle.json(), to: bundlePath(locator: locator), mode: 0o644)
    }
}

extension String {
    func appendingPathComponent(_ component: String) -> String { (self as NSString).appendingPathComponent(component) }
}
