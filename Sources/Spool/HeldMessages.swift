// spool/held/: tunnel files set aside, not refused (DESIGN §8), e.g. over a mailbox quota.
// `spoolrun reprocess --held` puts them back into spool/new for the next sweep.
import Foundation

public struct HeldMessages {
    let config: SpoolrunConfig

    public init(config: SpoolrunConfig) { self.config = config }

    var directory: String { (config.spool as NSString).appendingPathComponent("held") }

    /// Moves every held tunnel file back to spool/new, never replacing a file there, and
    /// drops its NAME.reason; returns how many moved.
    public func release() throws -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        let new = (config.spool as NSString).appendingPathComponent("new")
        var moved = 0
        for name in names.sorted() where !name.hasPrefix(".") && !name.hasSuffix(".reason") {
            let path = (directory as NSString).appendingPathComponent(name)
            try FileSystem.moveNoReplace(path, to: (new as NSString).appendingPathComponent(name))
            unlink(path + ".reason")
            moved += 1
        }
        return moved
    }
}

/// Dates on the command line: YYYY-MM-DD (midnight UTC) or RFC 3339.
public enum ReprocessDates {
    public static func parse(_ text: String) -> Date? {
        if text.utf8.count == 10 { return TunnelEnvelope.parseTime(text + "T00:00:00Z") }
        return TunnelEnvelope.parseTime(text)
    }
}
