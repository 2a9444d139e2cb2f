// One sweep at a time: an exclusive flock on state/sweep.lock. The kernel drops the lock
// when the process dies, so a crashed sweep never blocks the next one. The holder also keeps
// a marker, state/sweep.running, that only an orderly end removes: finding it, the next
// holder knows the last one was killed, and clears what it may have left half-written.
import Foundation

public final class SweepLock {
    private let fd: Int32
    private let marker: String
    /// The previous holder was killed (or lost power) while it held the lock.
    public let previousHolderDied: Bool

    private init(fd: Int32, marker: String, previousHolderDied: Bool) {
        self.fd = fd
        self.marker = marker
        self.previousHolderDied = previousHolderDied
    }

    deinit {
        unlink(marker)
        close(fd)
    }

    /// Takes the lock without waiting; nil when another sweep holds it.
    public static func tryAcquire(stateDirectory: String) throws -> SweepLock? {
        let path = (stateDirectory as NSString).appendingPathComponent("sweep.lock")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open lock file", errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK { return nil }
            throw FileSystemError(path: path, operation: "flock", errno: e)
        }
        let marker = (stateDirectory as NSString).appendingPathComponent("sweep.running")
        let died = FileSystem.exists(marker)
        let m = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if m >= 0 { close(m) }
        return SweepLock(fd: fd, marker: marker, previousHolderDied: died)
    }
}
