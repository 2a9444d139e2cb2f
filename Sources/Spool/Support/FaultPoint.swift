// Fault injection for the crash suite (issue 8), in debug builds only: release builds compile
// every call to nothing, so the shipped binary cannot be made to fail on purpose.
//
//   SPOOLRUN_FAULT="STEP:N:KIND"
//
// makes the Nth arrival (1-based, counted across threads) at the named step either end the
// process at once with SIGKILL (KIND crash: no cleanup, no flush, like the OOM killer or a
// power cut for everything not yet durable), or throw the I/O error a full (enospc) or
// read-only (erofs) file system would give there, or (enotdir) an error about that one file
// that is no fault of the installation (a folder in the way). Each step is named where it is marked:
// intake, render, write, record, archive, expiry, receipts, deliver, sendmail.
import Foundation

public enum FaultPoint {
    /// Every marked step, for the crash suite's choices.
    public static let steps = ["intake", "render", "write", "record", "archive", "expiry", "receipts", "deliver", "sendmail"]

    #if DEBUG
    private struct Plan: Sendable {
        let step: String
        let at: Int
        let kind: String
    }

    private static let plan: Plan? = {
        guard let text = ProcessInfo.processInfo.environment["SPOOLRUN_FAULT"] else { return nil }
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 3, steps.contains(parts[0]), let at = Int(parts[1]), at > 0,
              ["crash", "enospc", "erofs", "enotdir"].contains(parts[2]) else {
            FileHandle.standardError.write(Data("spoolrun: SPOOLRUN_FAULT=\(text) is not STEP:N:crash|enospc|erofs|enotdir; ignored\n".utf8))
            return nil
        }
        return Plan(step: parts[0], at: at, kind: parts[2])
    }()

    private static let counter = Counter()

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }
    #endif

    /// Marks one arrival at `step`; `path` names the file an injected I/O error is about.
    @inline(__always)
    public static func reach(_ step: String, path: @autoclosure () -> String = "") throws {
        #if DEBUG
        guard let plan, plan.step == step, counter.next() == plan.at else { return }
        FileHandle.standardError.write(Data("spoolrun: injected fault \(plan.kind) at \(step) #\(plan.at)\n".utf8))
        switch plan.kind {
        case "crash":
            kill(getpid(), SIGKILL)
            _exit(137)
        case "enospc":
            throw FileSystemError(path: path().isEmpty ? step : path(), operation: "write", errno: ENOSPC)
        case "enotdir":
            throw FileSystemError(path: path().isEmpty ? step : path(), operation: "write", errno: ENOTDIR)
        default:
            throw FileSystemError(path: path().isEmpty ? step : path(), operation: "write", errno: EROFS)
        }
        #endif
    }
}
