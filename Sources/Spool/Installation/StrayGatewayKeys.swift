// The gateway's signing key lets anyone holding it put mail into any mailbox, so it must not
// stay on the portal host. Setup writes it outside the installation; an installation made by
// an older setup (D/gateway/) may still hold it, and `spoolrun run` warns while it does.
import Foundation

public enum StrayGatewayKeys {
    /// Gateway private keys inside the installation (the config file's folder): any `*.key`
    /// in its gateway/ folder, and `gateway*.key` beside the config or among the portal's keys.
    public static func find(config: SpoolrunConfig) -> [String] {
        let root = (config.file as NSString).deletingLastPathComponent
        let keyFolders = Set([root, (root as NSString).appendingPathComponent("keys")]
                             + config.recipientKeys.map { ($0.key as NSString).deletingLastPathComponent })
        var found: [String] = []
        let gateway = (root as NSString).appendingPathComponent("gateway")
        for name in names(in: gateway) where name.hasSuffix(".key") {
            found.append((gateway as NSString).appendingPathComponent(name))
        }
        for folder in keyFolders.sorted() {
            for name in names(in: folder) where name.hasPrefix("gateway") && name.hasSuffix(".key") {
                found.append((folder as NSString).appendingPathComponent(name))
            }
        }
        return found
    }

    private static func names(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }
}
