// spool/failed's retention (issue 15, part of step "expire"): anyone may send junk to the
// tunnel address, and each piece ends in spool/failed with a rejection row. A quarantined
// file older than spool.failed_days goes, with its .reason and its row; while spool/failed
// holds more than spool.failed_max_mb, the oldest go first. This is policy by age and size,
// not a failure: a failure still never deletes anything from the spool. Logged; the rows
// removed are counted (StateStore+Attempts), so the quarantine totals never go down.
//
// Order, for crash safety: the file first, then its .reason, then the rows. A crash in
// between leaves a .reason alone (removed by age next time) or rows (removed by age).
import Foundation
import Logging
import Tunnel

public struct FailedRetention: SweepStage {
    public let step = PipelineStep.expire
    public init() {}

    /// One quarantined file with its .reason, or a .reason alone.
    struct Entry {
        var name: String
        var hasFile: Bool
        var hasReason: Bool
        /// The disk space it takes (st_blocks): a sparse file counts for what it holds.
        var bytes: Int
        /// When it was quarantined: the .reason's time (written just before the move), else the file's ctime (the move).
        var quarantinedAt: Date
    }

    public func run(context: SweepContext) throws {
        let config = context.config
        let failed = context.spool.failed
        let keptSince = context.now.addingTimeInterval(-Double(config.failedDays) * 86_400)
        let entries = try Self.list(failed).sorted { ($0.quarantinedAt, $0.name) < ($1.quarantinedAt, $1.name) }

        var remove: [Entry] = []
        var total = entries.reduce(0) { $0 + $1.bytes }
        for entry in entries {
            if entry.quarantinedAt < keptSince {
                remove.append(entry)
                total -= entry.bytes
            }
        }
        // Oldest first, until what is left fits.
        for entry in entries where entry.quarantinedAt >= keptSince && total > config.failedMaxBytes {
            remove.append(entry)
            total -= entry.bytes
        }

        var spoolNames: [String] = []
        var removedBytes = 0
        for entry in remove {
            let path = (failed as NSString).appendingPathComponent(entry.name)
            if entry.hasFile {
                spoolNames.append(Self.spoolName(entry.name, reason: path + ".reason", hasReason: entry.hasReason))
                if unlink(path) != 0 && errno != ENOENT { throw FileSystemError(path: path, operation: "unlink", errno: errno) }
            }
            if entry.hasReason, unlink(path + ".reason") != 0 && errno != ENOENT {
                throw FileSystemError(path: path + ".reason", operation: "unlink", errno: errno)
            }
            removedBytes += entry.bytes
            context.logger.info("quarantined file removed by retention", metadata: [
                "step": "expire", "file": "\(path)", "quarantined": "\(TunnelEnvelope.formatTime(entry.quarantinedAt))",
                "why": "\(entry.quarantinedAt < keptSince ? "older than spool.failed_days (\(config.failedDays))" : "over spool.failed_max_mb")"])
        }
        if !remove.isEmpty { try FileSystem.syncDirectory(failed) }
        let rows = try context.store.removeRejections(spoolNames: spoolNames, keptSince: keptSince, filesRemoved: spoolNames.count)
        if !remove.isEmpty || rows > 0 {
            context.logger.notice("spool/failed retention", metadata: ["step": "expire", "files": "\(spoolNames.count)",
                                                                      "bytes": "\(removedBytes)", "rows": "\(rows)"])
        }
    }

    /// The spool name the rejection rows hold: the .reason's "spool-name:" line for a
    /// shortened name, else NAME without the ".<16 hex digits>" a name clash added. (The
    /// file is not read: a too-large one may be gigabytes.)
    static func spoolName(_ name: String, reason: String, hasReason: Bool) -> String {
        if hasReason, let text = try? String(contentsOfFile: reason, encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("spool-name: ") }) {
            return String(line.dropFirst("spool-name: ".count))
        }
        let tail = name.utf8.suffix(17)
        if tail.count == 17, tail.first == UInt8(ascii: "."), tail.dropFirst().allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) {
            return String(decoding: name.utf8.dropLast(17), as: UTF8.self)
        }
        return name
    }

    /// spool/failed's regular files, without dot-files (temporary names), each NAME paired
    /// with NAME.reason.
    static func list(_ failed: String) throws -> [Entry] {
        guard let dir = opendir(failed) else {
            if errno == ENOENT { return [] }
            throw FileSystemError(path: failed, operation: "open directory", errno: errno)
        }
        defer { closedir(dir) }
        var stats: [String: stat] = [:]
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix(".") { continue }
            var st = stat()
            guard lstat((failed as NSString).appendingPathComponent(name), &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            stats[name] = st
        }
        func time(_ t: timespec) -> Date { Date(timeIntervalSince1970: Double(t.tv_sec) + Double(t.tv_nsec) / 1e9) }
        var entries: [Entry] = []
        for (name, st) in stats {
            if name.hasSuffix(".reason"), stats[String(name.dropLast(".reason".count))] != nil { continue }
            if let reason = stats[name + ".reason"] {
                entries.append(Entry(name: name, hasFile: true, hasReason: true, bytes: Self.diskBytes(st) + Self.diskBytes(reason),
                                     quarantinedAt: time(reason.st_mtim)))
            } else if name.hasSuffix(".reason") {
                entries.append(Entry(name: String(name.dropLast(".reason".count)), hasFile: false, hasReason: true,
                                     bytes: Self.diskBytes(st), quarantinedAt: time(st.st_mtim)))
            } else {
                entries.append(Entry(name: name, hasFile: true, hasReason: false, bytes: Self.diskBytes(st), quarantinedAt: time(st.st_ctim)))
            }
        }
        return entries
    }

    private static func diskBytes(_ st: stat) -> Int { Int(st.st_blocks) * 512 }
}
