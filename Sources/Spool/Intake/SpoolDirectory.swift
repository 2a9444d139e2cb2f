// The Maildir spool: an MTA delivers into tmp/ and renames into new/; the sweep reads new/
// and moves each file to archive/ or failed/. Only regular files in new/ are messages:
// dot-files, symlinks, FIFOs and directories are never followed or opened (maildir(5)).
import Foundation
import Crypto

public struct SpoolDirectory: Sendable {
    public let root: String
    public var new: String { sub("new") }
    public var tmp: String { sub("tmp") }
    public var cur: String { sub("cur") }
    public var archive: String { sub("archive") }
    public var failed: String { sub("failed") }
    /// Tunnel files set aside (over quota), with NAME.reason beside each.
    public var held: String { sub("held") }

    public init(root: String) { self.root = root }

    private func sub(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }

    public func ensureLayout() throws {
        for dir in [root, tmp, new, cur, archive, failed] { try FileSystem.makeDirectory(dir, mode: 0o750) }
    }

    public struct Listing: Sendable {
        /// Regular files, sorted by name (Maildir names start with the delivery time).
        public var messages: [String]
        /// Entries that are not regular files, with what they are; they stay where they are.
        public var ignored: [(name: String, kind: String)]
        /// Each message's size when listed, for batching by bytes.
        public var sizes: [String: Int] = [:]
    }

    /// Lists new/ without following anything.
    public func listNew(limit: Int = .max) throws -> Listing {
        guard let dir = opendir(new) else {
            throw FileSystemError(path: new, operation: "open spool directory", errno: errno)
        }
        defer { closedir(dir) }
        var messages: [String] = []
        var ignored: [(String, String)] = []
        var sizes: [String: Int] = [:]
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix(".") { continue }
            var st = stat()
            guard lstat((new as NSString).appendingPathComponent(name), &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                messages.append(name)
                sizes[name] = Int(st.st_size)
            case S_IFLNK: ignored.append((name, "symbolic link"))
            case S_IFDIR: ignored.append((name, "directory"))
            case S_IFIFO: ignored.append((name, "FIFO"))
            default: ignored.append((name, "special file"))
            }
        }
        messages.sort()
        if messages.count > limit { messages.removeLast(messages.count - limit) }
        return Listing(messages: messages, ignored: ignored, sizes: sizes)
    }

    public enum ReadOutcome: Sendable {
        case bytes([UInt8])
        /// Over the limit: found by fstat before a single byte was read.
        case tooLarge(size: Int)
        /// Replaced by something that is not a regular file since the listing.
        case notRegular
        /// Gone since the listing (another process took it).
        case vanished
    }

    /// Opens new/NAME without following links or blocking on a FIFO, checks that it is a
    /// regular file and its size, and only then reads it.
    public func read(_ name: String, maxBytes: Int) throws -> ReadOutcome {
        let path = (new as NSString).appendingPathComponent(name)
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        if fd < 0 {
            if errno == ENOENT { return .vanished }
            if errno == ELOOP { return .notRegular }
            throw FileSystemError(path: path, operation: "open", errno: errno)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileSystemError(path: path, operation: "fstat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .notRegular }
        let size = Int(st.st_size)
        if size > maxBytes { return .tooLarge(size: size) }
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        while offset < size {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + offset, size - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            offset += n
        }
        if offset < size { bytes.removeLast(size - offset) }
        return .bytes(bytes)
    }

    public func newPath(_ name: String) -> String { (new as NSString).appendingPathComponent(name) }
    public func archivePath(_ name: String) -> String { (archive as NSString).appendingPathComponent(name) }
    public func failedPath(_ name: String) -> String { (failed as NSString).appendingPathComponent(name) }

    /// The longest file name the file systems allow (NAME_MAX), in bytes.
    public static let nameMax = 255

    /// `name`, or, when `name` plus `reserve` more bytes (".reason", a ".<digest>" to keep it
    /// unique) would pass NAME_MAX, a shortened name that stays unique: the name's first 160
    /// bytes, "~", and 32 hex digits of the SHA-256 of the whole name. Whoever shortens
    /// records the original (the "spool-name:" line of a .reason file).
    public static func boundedName(_ name: String, reserve: Int) -> String {
        guard name.utf8.count + reserve > nameMax else { return name }
        var prefix = ""
        var bytes = 0
        for scalar in name.unicodeScalars {
            let n = String(scalar).utf8.count
            if bytes + n > 160 { break }
            prefix.unicodeScalars.append(scalar)
            bytes += n
        }
        return prefix + "~" + SHA256.hex(Array(name.utf8)).prefix(32)
    }

    /// Counts regular files waiting in new/.
    public func waitingCount() -> Int { (try? listNew().messages.count) ?? 0 }
}
