// Reading nginx's receipt log (`$time_iso8601 $uri` per line) from where the last sweep
// stopped (DESIGN §6). The position is kept with the file's identity (device and inode), so
// that log rotation loses nothing and repeats nothing that matters:
// - rename (logrotate's default): the old file is found again by its inode among the
//   rotated siblings (receipts.log.1 ...), read to its end, then the new file from 0;
// - copytruncate: same inode, but shorter than the offset or no longer starting with the
//   bytes it started with; the copy (receipts.log.1, recognised by those bytes) is read from
//   the offset, then the truncated file from 0.
// Only whole lines are taken; a line nginx is still writing waits for the next sweep.
import Foundation
import Crypto

public struct ReceiptLine: Sendable, Equatable {
    public var time: Date
    public var token: String
}

public struct ReceiptLog: Sendable {
    public let path: String
    /// At most this much is read per sweep (the rest waits): bounded memory.
    public var maxBytes = 16 << 20

    public init(path: String) { self.path = path }

    struct Identity: Equatable {
        let device: UInt64
        let inode: UInt64
        let size: UInt64
    }

    static func identity(_ path: String) -> Identity? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: UInt64(st.st_size))
    }

    /// The lines since `position`, and the position after them.
    public func read(from position: ReceiptLogPosition?) throws -> (lines: [ReceiptLine], position: ReceiptLogPosition?) {
        guard let current = Self.identity(path) else { return ([], position) }
        var lines: [ReceiptLine] = []
        var start: UInt64 = 0
        if let p = position {
            let sameFile = p.device == current.device && p.inode == current.inode
            if sameFile && current.size >= p.offset && Self.head(of: path, upTo: p.offset) == p.head {
                start = p.offset
            } else {
                // Rotated since the last sweep, once or more. The siblings are newest first
                // (.1, .2 ...). Find where we stopped: by inode after a rename, by the first
                // bytes after copytruncate. Finish that file, then read every newer sibling
                // whole, oldest first, then the current file. If it is gone (compressed,
                // deleted), read every sibling whole: a token read twice is answered once.
                let siblings = rotatedSiblings()
                let match = siblings.firstIndex { s in
                    sameFile ? (s.1.size >= p.offset && Self.head(of: s.0, upTo: p.offset) == p.head)
                             : (s.1.device == p.device && s.1.inode == p.inode)
                }
                if let k = match {
                    lines += try Self.lines(in: siblings[k].0, from: p.offset, upTo: siblings[k].1.size, limit: maxBytes).lines
                }
                for s in siblings[..<(match ?? siblings.count)].reversed() {
                    lines += try Self.lines(in: s.0, from: 0, upTo: s.1.size, limit: maxBytes).lines
                }
            }
        }
        let (fresh, end) = try Self.lines(in: path, from: start, upTo: current.size, limit: maxBytes)
        lines += fresh
        return (lines, ReceiptLogPosition(device: current.device, inode: current.inode, offset: end,
                                          head: Self.head(of: path, upTo: end)))
    }

    /// SHA-256 (hex) of the first min(offset, 256) bytes of a file.
    static func head(of path: String, upTo offset: UInt64) -> String? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        let data = (try? h.read(upToCount: Int(min(offset, 256)))) ?? Data()
        return SHA256.hex([UInt8](data))
    }

    /// receipts.log.1, receipts.log.2 ... (uncompressed), newest first.
    func rotatedSiblings() -> [(String, Identity)] {
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix(base + "."), let n = Int(name.dropFirst(base.count + 1)) else { return nil }
            return (n, (dir as NSString).appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }.compactMap { _, p in Self.identity(p).map { (p, $0) } }
    }

    /// Whole lines between `from` and `upTo` (at most `limit` bytes), and the offset after the last one.
    static func lines(in path: String, from: UInt64, upTo: UInt64, limit: Int) throws -> (lines: [ReceiptLine], end: UInt64) {
        guard upTo > from, let handle = FileHandle(forReadingAtPath: path) else { return ([], from) }
        defer { try? handle.close() }
        try handle.seek(toOffset: from)
        let data = try handle.read(upToCount: Int(min(UInt64(limit), upTo - from))) ?? Data()
        guard let lastNewline = data.lastIndex(of: 0x0A) else { return ([], from) }
        let whole = data[data.startIndex...lastNewline]
        var out: [ReceiptLine] = []
        for line in whole.split(separator: 0x0A) {
            if let parsed = parse(String(decoding: line, as: UTF8.self)) { out.append(parsed) }
        }
        return (out, from + UInt64(whole.count))
    }

    /// "2026-11-25T10:00:00+00:00 /r/TOKEN"; anything else is skipped.
    public static func parse(_ line: String) -> ReceiptLine? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 2, fields[1].hasPrefix("/r/"), let time = TunnelEnvelope.parseTime(String(fields[0])) else { return nil }
        let token = fields[1].dropFirst(3)
        guard (16...64).contains(token.count),
              token.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)
                                      || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }) else { return nil }
        return ReceiptLine(time: time, token: String(token))
    }
}
