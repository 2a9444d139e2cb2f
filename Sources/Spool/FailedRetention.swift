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
import Crypto
import Logging

public struct FailedRetention: SweepStage {
    public let step = PipelineStep.expire
    public init() {}

    /// One quarantined file with its .reason, or a .reason alone.
    struct Entry {
        var name: String
        var hasFile: Bool
        var hasReason: Bool
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

        var files: [(spoolName: String, digest: String)] = []
        var removedBytes = 0
        for entry in remove {
            let path = (failed as NSString).appendingPathComponent(entry.name)
            if entry.hasFile {
                let bytes = FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
                let digest = SHA256.hex(bytes)
                files.append((Self.spoolName(entry.name, digest: digest, reason: path + ".reason", hasReason: entry.hasReason), digest))
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
        let rows = try context.store.removeRejections(files, keptSince: keptSince, filesRemoved: files.count)
        if !remove.isEmpty || rows > 0 {
            context.logger.notice("spool/failed retention", metadata: ["step": "expire", "files": "\(files.count)",
                                                                      "bytes": "\(removedBytes)", "rows": "\(rows)"])
        }
    }

    /// The spool name the rejection row holds: the .reason's "spool-name:" line for a
    /// shortened name, else NAME without the ".<digest>" a name clash added.
    static func spoolName(_ name: String, digest: String, reason: String, hasReason: Bool) -> String {
        if hasReason, let text = try? String(contentsOfFile: reason, encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("spool-name: ") }) {
            return String(line.dropFirst("spool-name: ".count))
        }
        let suffix = "." + digest.prefix(16)
        return name.hasSuffix(suffix) ? String(name.dropLast(suffix.count)) : name
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
                entries.append(Entry(name: name, hasFile: true, hasReason: true, bytes: Int(st.st_size) + Int(reason.st_size),
                                     quarantinedAt: time(reason.st_mtim)))
            } else if name.hasSuffix(".reason") {
                entries.append(Entry(name: String(name.dropLast(".reason".count)), hasFile: false, hasReason: true,
                                     bytes: Int(st.st_size), quarantinedAt: time(st.st_mtim)))
            } else {
                entries.append(Entry(name: name, hasFile: true, hasReason: false, bytes: Int(st.st_size), quarantinedAt: time(st.st_ctim)))
            }
        }
        return entries
    }
}
