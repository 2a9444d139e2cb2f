// One sweep at a time: an exclusive flock on state/sweep.lock. The kernel drops the lock
// when the process dies, so a crashed sweep never blocks the next one.
import Foundation

public final class SweepLock {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

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
        return SweepLock(fd: fd)
    }
}
