// Durable file operations: every file the portal writes is created under a temporary name
// with O_EXCL in its final directory, written, fsync'ed and renamed into place, so a reader
// never sees half a file (DESIGN §8, as Postfix and maildir(5) do it).
import Foundation

public struct FileSystemError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let operation: String
    public let errno: Int32
    public var description: String { "\(path): \(operation) failed: \(String(cString: strerror(errno)))" }
}

public enum FileSystem {
    /// Writes `bytes` to `path` atomically with the given mode. When `sync` is false the
    /// caller promises to sync the file (and its directory) itself, e.g. once per batch.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644,
                                       sync: Bool = true) throws {
        try writeAtomically(to: path, mode: mode, sync: sync) { write in try bytes.withUnsafeBytes { try write($0) } }
    }

    /// The same, for content made piece by piece: `produce` is handed a function that
    /// appends one piece to the temporary file (a large sealed object is never whole in memory).
    public static func writeAtomically(to path: String, mode: mode_t = 0o644, sync: Bool = true,
                                       _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        // The final name's first 128 bytes only: a name near NAME_MAX (255 bytes) must not
        // make its temporary name too long (issue 15: a 236-character spool name did).
        let stem = String(decoding: name.utf8.prefix(128), as: UTF8.self)
        let tmp = (dir as NSString).appendingPathComponent(".\(stem).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw FileSystemError(path: tmp, operation: "create", errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            defer { close(fd) }
            // The umask may have narrowed `mode`; key files must end exactly as asked.
            guard fchmod(fd, mode) == 0 else { throw FileSystemError(path: tmp, operation: "chmod", errno: errno) }
            try produce { piece in try writeAll(fd, piece, path: tmp) }
            if sync, fsync(fd) != 0 { throw FileSystemError(path: tmp, operation: "fsync", errno: errno) }
        }
        try FaultPoint.reach("write", path: path)
        guard rename(tmp, path) == 0 else { throw FileSystemError(path: path, operation: "rename", errno: errno) }
        ok = true
        if sync { try syncDirectory(dir) }
    }

    public static func writeAtomically(_ text: String, to path: String, mode: mode_t = 0o644) throws {
        try writeAtomically(Array(text.utf8), to: path, mode: mode)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(path: path, operation: "write", errno: errno)
            }
            offset += n
        }
    }

    /// Makes a directory's entries (new names, renames) durable.
    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open directory", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileSystemError(path: path, operation: "fsync directory", errno: errno) }
    }

    /// Flushes every file written on the filesystem that holds `path` (syncfs(2)): one
    /// flush for a whole batch of files written with `sync: false`, before the batch is
    /// recorded as done.
    public static func syncFileSystem(containing path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open directory", errno: errno) }
        defer { close(fd) }
        guard System.syncFileSystem(holding: fd) == 0 else { throw FileSystemError(path: path, operation: "syncfs", errno: errno) }
    }

    public static func makeDirectory(_ path: String, mode: mode_t) throws {
        // One mkdir(2) in the common cases (made, or there already): the render step makes a
        // directory per message and recipient.
        if mkdir(path, mode) == 0 {
            guard chmod(path, mode) == 0 else { throw FileSystemError(path: path, operation: "chmod", errno: errno) }
            return
        }
        let failure = errno
        var st = stat()
        if failure == EEXIST, stat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else { throw FileSystemError(path: path, operation: "mkdir (a file is in the way)", errno: EEXIST) }
            return
        }
        guard failure == ENOENT else { throw FileSystemError(path: path, operation: "mkdir", errno: failure) }
        // Missing parents are made with the same mode, not the process umask's: under
        // systemd's UMask=0077, www/m/<mailbox>/ must still be readable by nginx.
        let parent = (path as NSString).deletingLastPathComponent
        guard !parent.isEmpty, parent != path else { throw FileSystemError(path: path, operation: "mkdir", errno: failure) }
        try makeDirectory(parent, mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST { throw FileSystemError(path: path, operation: "mkdir", errno: errno) }
        guard chmod(path, mode) == 0 else { throw FileSystemError(path: path, operation: "chmod", errno: errno) }
    }

    /// Renames within one filesystem; refuses to replace an existing target.
    public static func moveNoReplace(_ from: String, to: String) throws {
        // link()+unlink() never replaces an existing name, unlike rename(); both are atomic
        // on one filesystem, and a crash in between leaves two names for one inode, which
        // the next sweep resolves.
        if link(from, to) != 0 {
            throw FileSystemError(path: to, operation: "link from \(from)", errno: errno)
        }
        guard unlink(from) == 0 else { throw FileSystemError(path: from, operation: "unlink", errno: errno) }
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}
