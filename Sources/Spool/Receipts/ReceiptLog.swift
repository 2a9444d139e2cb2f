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
import Tunnel

public struct ReceiptLine: Sendable, Equatable {
    public var time: Date
    public var token: String
}

public struct ReceiptLog: Sendable {
    public let path: String
    /// At most this much of the log is read by one `read` (a slice): memory stays bounded
    /// however large the backlog; the sweep reads slice after slice until the end.
    public var sliceBytes = 1 << 20

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

    /// The next slice of lines since `position` (at most `sliceBytes` of the log, across
    /// rotated files), and the position after them. A position inside a rotated file is
    /// found again by its inode, so a slice may end anywhere and the next one goes on there.
    /// No lines and the same position: the end.
    public func read(from position: ReceiptLogPosition?) throws -> (lines: [ReceiptLine], position: ReceiptLogPosition?) {
        guard let current = Self.identity(path) else { return ([], position) }
        // The files still to read, oldest first, each with where to start; the current log last.
        var files: [(path: String, id: Identity, from: UInt64)] = []
        if let p = position {
            let sameFile = p.device == current.device && p.inode == current.inode
            if sameFile && current.size >= p.offset && Self.head(of: path, upTo: p.offset) == p.head {
                files = [(path, current, p.offset)]
            } else {
                // Rotated since the last read, once or more. The siblings are newest first
                // (.1, .2 ...). Find where we stopped: by inode after a rename, by the first
                // bytes after copytruncate. Finish that file, then read every newer sibling
                // whole, oldest first, then the current file. If it is gone (compressed,
                // deleted), read every sibling whole: a token read twice is answered once.
                let siblings = rotatedSiblings()
                let match = siblings.firstIndex { s in
                    sameFile ? (s.1.size >= p.offset && Self.head(of: s.0, upTo: p.offset) == p.head)
                             : (s.1.device == p.device && s.1.inode == p.inode)
                }
                if let k = match { files.append((siblings[k].0, siblings[k].1, p.offset)) }
                files += siblings[..<(match ?? siblings.count)].reversed().map { ($0.0, $0.1, 0) }
                files.append((path, current, 0))
            }
        } else {
            files = [(path, current, 0)]
        }

        var lines: [ReceiptLine] = []
        var budget = UInt64(sliceBytes)
        var i = 0
        while true {
            let file = files[i], rotated = i < files.count - 1
            let (got, taken, whole) = try Self.lines(in: file.path, from: file.from, upTo: file.id.size, limit: budget)
            var end = taken
            if end == file.from && !whole && budget == UInt64(sliceBytes) {
                // Not one line in a whole slice: no receipt is that long. Skip past it.
                end = try Self.endOfLine(in: file.path, from: file.from, upTo: file.id.size, step: sliceBytes) ?? file.from
            }
            // A rotated file is written no more: an unterminated last line is no receipt.
            if rotated && whole { end = file.id.size }
            lines += got
            budget -= min(budget, end - file.from)
            if rotated && end >= file.id.size {
                i += 1
                if budget > 0 { continue }
                return (lines, try Self.position(files[i].path, files[i].id, 0))
            }
            return (lines, try Self.position(file.path, file.id, end))
        }
    }

    static func position(_ path: String, _ id: Identity, _ offset: UInt64) throws -> ReceiptLogPosition {
        ReceiptLogPosition(device: id.device, inode: id.inode, offset: offset, head: head(of: path, upTo: offset))
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

    /// Whole lines between `from` and `upTo` (at most `limit` bytes), the offset after the last
    /// one, and whether the read reached `upTo` (what is left after `end` is then one
    /// unterminated line).
    static func lines(in path: String, from: UInt64, upTo: UInt64, limit: UInt64) throws
        -> (lines: [ReceiptLine], end: UInt64, whole: Bool) {
        guard upTo > from else { return ([], from, true) }
        guard let handle = FileHandle(forReadingAtPath: path) else { return ([], from, false) }
        defer { try? handle.close() }
        try handle.seek(toOffset: from)
        let want = min(limit, upTo - from)
        let data = try handle.read(upToCount: Int(want)) ?? Data()
        let whole = want == upTo - from && UInt64(data.count) == want
        guard let lastNewline = data.lastIndex(of: 0x0A) else { return ([], from, whole) }
        let taken = data[data.startIndex...lastNewline]
        var out: [ReceiptLine] = []
        for line in taken.split(separator: 0x0A) {
            if let parsed = parse(String(decoding: line, as: UTF8.self)) { out.append(parsed) }
        }
        return (out, from + UInt64(taken.count), whole)
    }

    /// The offset just after the next newline at or after `from`, read `step` bytes at a time;
    /// nil if there is none before `upTo` (a line still being written).
    static func endOfLine(in path: String, from: UInt64, upTo: UInt64, step: Int) throws -> UInt64? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        try handle.seek(toOffset: from)
        var at = from
        while at < upTo {
            let chunk = try handle.read(upToCount: Int(min(UInt64(step), upTo - at))) ?? Data()
            if chunk.isEmpty { return nil }
            if let nl = chunk.firstIndex(of: 0x0A) { return at + UInt64(chunk.distance(from: chunk.startIndex, to: nl)) + 1 }
            at += UInt64(chunk.count)
        }
        return nil
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
