// What a killed sweep leaves behind: every file is written under a temporary name
// (".NAME.PID.RANDOM.tmp", FileSystem.writeAtomically) and renamed into place, so a reader
// never sees a partial file under a real name; but a kill between the two leaves the
// temporary file. The next lock holder removes them, when the lock's marker says the last
// holder died (SweepLock.previousHolderDied), before it writes anything itself.
import Foundation
import Logging

extension SweepLock {
    /// The installation's sweep lock, nil when another sweep or command holds it. After a
    /// holder that was killed, what it left half-written is removed before anything else.
    static func take(_ config: SpoolrunConfig, logger: Logger) throws -> SweepLock? {
        // Before the lock file is made: by the state folder's owner only, in a private folder.
        try StateDirectoryAccess.prepare(config.state)
        guard let lock = try tryAcquire(stateDirectory: config.state) else { return nil }
        if lock.previousHolderDied { StaleTemporaryFiles.remove(under: StaleTemporaryFiles.roots(config), logger: logger) }
        return lock
    }
}

enum StaleTemporaryFiles {
    /// Removes the temporary files under `roots` (recursively); returns how many.
    @discardableResult
    static func remove(under roots: [String], logger: Logger) -> Int {
        var removed = 0
        for root in roots {
            guard let walker = FileManager.default.enumerator(atPath: root) else { continue }
            while let relative = walker.nextObject() as? String {
                let name = (relative as NSString).lastPathComponent
                guard name.hasPrefix("."), name.hasSuffix(".tmp") else { continue }
                let path = (root as NSString).appendingPathComponent(relative)
                var st = stat()
                guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                if unlink(path) == 0 { removed += 1 }
            }
        }
        if removed > 0 {
            logger.notice("removed temporary files left by an interrupted run", metadata: ["files": "\(removed)"])
        }
        return removed
    }

    /// The folders a lock holder writes into.
    static func roots(_ config: SpoolrunConfig) -> [String] {
        let spool = SpoolDirectory(root: config.spool)
        return [config.www, config.state, spool.failed, spool.held]
    }
}
