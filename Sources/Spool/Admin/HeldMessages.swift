// spool/held/: tunnel files set aside, not refused (DESIGN §8), e.g. over a mailbox quota.
// `spoolrun reprocess --held` puts them back into spool/new for the next sweep.
import Foundation
import Logging

public struct HeldMessages {
    let config: SpoolrunConfig

    public init(config: SpoolrunConfig) { self.config = config }

    var directory: String { (config.spool as NSString).appendingPathComponent("held") }

    /// `reprocess --held`: the held files back into spool/new, then a sweep takes them.
    public func redeliver(logger: Logger) throws -> (released: Int, sweep: SweepSummary) {
        let released = try release()
        return (released, try Sweep.standard(config: config, logger: logger).run())
    }

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
