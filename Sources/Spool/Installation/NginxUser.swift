// `spoolrun setup --nginx-user USER`: nginx runs as a user of its own, who may write D/logs
// (its logs, the receipt log among them) and D/run (pid, temporary files) and nothing else;
// keys/, state/, the spool and the gateway folder stay the sweep's alone.
import Foundation

struct NginxUser: Sendable {
    let name: String
    let uid: uid_t
    let gid: gid_t

    static func lookUp(_ name: String) throws -> NginxUser {
        guard geteuid() == 0 else {
            throw SetupError(message: "--nginx-user \(name) needs root (setup hands that user logs/ and run/); "
                             + "without root, leave it out and chown those two folders yourself (docs/operations.md)")
        }
        guard let entry = getpwnam(name) else { throw SetupError(message: "--nginx-user \(name): no such user") }
        guard entry.pointee.pw_uid != 0 else {
            throw SetupError(message: "--nginx-user \(name) is root; nginx must run as an unprivileged user of its own")
        }
        return NginxUser(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// logs/ keeps the installation's group (set-group-id, so nginx's log files get it too):
    /// the sweep, in that group, reads the receipt log. run/ is nginx's alone.
    func hand(logs: String, run: String) throws {
        for (path, group, mode) in [(logs, getegid(), mode_t(0o2750)), (run, gid, mode_t(0o700))] {
            guard chown(path, uid, group) == 0 else { throw FileSystemError(path: path, operation: "chown to \(name)", errno: errno) }
            guard chmod(path, mode) == 0 else { throw FileSystemError(path: path, operation: "chmod", errno: errno) }
        }
    }
}
