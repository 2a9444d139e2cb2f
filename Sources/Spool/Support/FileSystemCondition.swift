// What the file system under a path says about itself, for error messages: a failed SQLite
// write reports "disk I/O error" or "database or disk is full", which does not tell an
// administrator that the state folder's disk is full or mounted read-only.
import Foundation

enum FileSystemCondition {
    /// Below this much free space a file system counts as full: a sweep writes more.
    static let nearlyFull: UInt64 = 1 << 20

    /// "the file system holding DIR is full (N KiB free)" or "... is read-only", or nil
    /// when statvfs sees neither (or cannot tell).
    static func note(for directory: String) -> String? {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return nil }
        if info.f_flag & UInt(ST_RDONLY) != 0 {
            return "the file system holding \(directory) is read-only"
        }
        let free = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        if free < nearlyFull {
            return "the file system holding \(directory) is full (\(free / 1024) KiB free)"
        }
        return nil
    }

    /// `problem`, followed by the file system's condition when it explains it.
    static func explained(_ problem: String, in directory: String) -> String {
        guard let note = note(for: directory) else { return problem }
        return "\(problem); \(note)"
    }
}
