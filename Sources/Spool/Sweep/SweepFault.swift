// Which errors stop a sweep (issue 15): a fault of the installation (state store, keys,
// configuration, a full, read-only or failing disk, a permission) stops it with exit 1, as it would
// stop every file alike; any other error is about one file, and that file alone is
// quarantined or tried again while the rest of the sweep goes on.
import Foundation
import Crypto
import Tunnel

enum SweepFault {
    /// File system errors that say the disk, not the file, is the problem. A refused
    /// permission is one too: it comes from ownership or modes of the installation (files
    /// left by a command run as another user), would meet every message alike, and counting
    /// it as the file's would quarantine every message after spool.max_attempts sweeps.
    static let installationErrnos: Set<Int32> = [ENOSPC, EDQUOT, EROFS, EIO, EMFILE, ENFILE, ENOMEM, EACCES, EPERM]

    static func isInstallationFault(_ error: Error) -> Bool {
        switch error {
        case is StateStoreError, is ConfigError, is KeyFileError, is CryptoFileError: return true
        case let e as FileSystemError: return installationErrnos.contains(e.errno)
        default: return false
        }
    }

    /// An error about one file that may pass by itself or by an administrator's hand (a
    /// folder in the way): worth trying again in the next sweep. Any other
    /// per-file error would come out the same every time.
    static func mayPass(_ error: Error) -> Bool { error is FileSystemError }

    /// Sweep steps (receipts, deliver, expire) that failed for reasons of their own, after
    /// every step had its turn.
    struct StepsFailed: Error, CustomStringConvertible {
        let failures: [String]
        var description: String { failures.joined(separator: "; ") }
    }

    /// An error as one line, for a .reason file and the state store.
    static func oneLine(_ error: Error) -> String {
        "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
