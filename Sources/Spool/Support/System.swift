// The Linux calls Swift's Glibc module does not reach, declared in the CSystem shim: this is
// the one file in Spool that imports it. Each call returns what the C call returns (errno set
// on failure), so the caller, which knows the file or command involved, words the error.
import CSystem
#if canImport(Glibc)
import Glibc
#endif

enum System {
    /// syncfs(2): flushes every file written on the filesystem that holds `descriptor`.
    /// 0, or -1 with errno.
    static func syncFileSystem(holding descriptor: Int32) -> Int32 {
        syncfs(descriptor)
    }

    /// memfd_create(2): an anonymous memory file, closed on exec. The descriptor, or -1 with
    /// errno.
    static func memoryFile(named name: String) -> Int32 {
        memfd_create(name, UInt32(MFD_CLOEXEC))
    }

    /// pipe2(2) with O_CLOEXEC: neither end leaks into a program another thread starts.
    /// Nil with errno on failure.
    static func closeOnExecPipe() -> (read: Int32, write: Int32)? {
        var ends: [Int32] = [-1, -1]
        guard pipe2(&ends, O_CLOEXEC) == 0 else { return nil }
        return (ends[0], ends[1])
    }

    /// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+): the child closes every
    /// descriptor from `lowest` up before it runs the program. 0, or an error number.
    static func addCloseFrom(_ lowest: Int32, to actions: inout posix_spawn_file_actions_t) -> Int32 {
        posix_spawn_file_actions_addclosefrom_np(&actions, lowest)
    }

    /// mallopt(M_MMAP_THRESHOLD, bytes): allocations of `bytes` or more get their own
    /// mapping, and glibc stops moving the threshold. True when glibc took the value.
    static func setMmapThreshold(_ bytes: Int32) -> Bool {
        mallopt(M_MMAP_THRESHOLD, bytes) == 1
    }
}
