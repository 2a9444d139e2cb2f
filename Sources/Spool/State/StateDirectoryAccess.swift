// Who may open the state folder, and how private it must be (issue 15). The state store
// holds envelope metadata, receipt hashes and the sealed outbox: like a key, it is refused
// when group or others can reach it. And it is opened only by the user that owns it: one
// command run as root would otherwise leave root-owned files (the database's -wal and -shm,
// which SQLite writes even to read, outbox payloads, the lock) that every later sweep, run
// as the service user, fails on.
import Foundation

public struct StateAccessError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public var description: String { "\(path): \(problem)" }
}

enum StateDirectoryAccess {
    /// The database file's name in the state folder.
    static let databaseName = "spoolrun.sqlite"

    /// Makes the folder (0700) if it is missing, refuses it when another user owns it or it
    /// or anything in it is open to group or others, and creates the database file 0600
    /// before SQLite does (SQLite gives its -wal and -shm files the database file's mode).
    static func prepare(_ directory: String) throws {
        var st = stat()
        if lstat(directory, &st) != 0 {
            guard errno == ENOENT else { throw FileSystemError(path: directory, operation: "stat", errno: errno) }
            try FileSystem.makeDirectory(directory, mode: 0o700)
            guard lstat(directory, &st) == 0 else { throw FileSystemError(path: directory, operation: "stat", errno: errno) }
        }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            throw StateAccessError(path: directory, problem: "the state folder (paths.state) is not a directory")
        }
        try checkOwner(directory, st, top: true)
        try checkEntries(directory)
        let database = (directory as NSString).appendingPathComponent(databaseName)
        guard lstat(database, &st) != 0 else { return }
        let fd = open(database, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 || errno == EEXIST else { throw FileSystemError(path: database, operation: "create", errno: errno) }
        if fd >= 0 { close(fd) }
    }

    /// The folder, and every file and folder under it, recursively.
    private static func checkEntries(_ directory: String) throws {
        var st = stat()
        guard lstat(directory, &st) == 0 else { throw FileSystemError(path: directory, operation: "stat", errno: errno) }
        try checkMode(directory, st, isFolder: true)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            guard lstat(path, &st) == 0 else {
                if errno == ENOENT { continue }
                throw FileSystemError(path: path, operation: "stat", errno: errno)
            }
            let kind = st.st_mode & S_IFMT
            guard kind == S_IFDIR || kind == S_IFREG else {
                throw StateAccessError(path: path, problem: "is neither a file nor a folder; the state folder holds only spoolrun's own files")
            }
            try checkOwner(path, st, top: false)
            if kind == S_IFDIR { try checkEntries(path) } else { try checkMode(path, st, isFolder: false) }
        }
    }

    private static func checkMode(_ path: String, _ st: stat, isFolder: Bool) throws {
        let mode = st.st_mode & 0o777
        guard mode & 0o077 != 0 else { return }
        throw StateAccessError(path: path, problem: "the state \(isFolder ? "folder" : "file") is accessible by group or others "
                               + "(mode \(String(mode, radix: 8))); run: chmod \(isFolder ? "700" : "600") \(path)")
    }

    /// The folder itself names the user to run as; anything inside that another user
    /// owns (left by a command run as root) names the owner to give it back to.
    private static func checkOwner(_ path: String, _ st: stat, top: Bool) throws {
        let me = geteuid()
        guard st.st_uid != me else { return }
        let owner = userName(st.st_uid)
        if top {
            throw StateAccessError(path: path, problem: "the state folder belongs to \(owner) (uid \(st.st_uid)), but this command runs as "
                                   + "\(userName(me)) (uid \(me)); run it as the owner: sudo -u \(owner) spoolrun ...")
        }
        throw StateAccessError(path: path, problem: "belongs to \(owner) (uid \(st.st_uid)), not to \(userName(me)), who owns the state "
                               + "folder and runs spoolrun (was a command run as another user?); run: chown \(userName(me)) \(path)")
    }

    /// The user's name, or the uid as text when it has none.
    static func userName(_ uid: uid_t) -> String {
        guard let pw = getpwuid(uid), let name = pw.pointee.pw_name else { return "\(uid)" }
        return String(cString: name)
    }
}
