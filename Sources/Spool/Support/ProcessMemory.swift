// How the sweep's process uses memory (DESIGN §10: peak memory under 3x the message size
// plus 50 MB). glibc raises its mmap threshold each time a large buffer is freed, up to
// 32 MiB, so that the next buffers of that size come from the heap and stay counted in the
// process's memory after they are freed. A sweep that decrypts a tunnel message of 40 MB,
// then renders and mails a PDF of 20 MB, would hold the first stage's freed buffers while it
// fills new ones. A fixed threshold keeps every buffer of 1 MiB or more in its own mapping,
// returned to the system the moment it is freed (measured on an OTP PDF with 20 MiB of
// attachments: peak RSS 240 MiB before, 188 MiB after; make bench prints it).

enum ProcessMemory {
    static let mmapThreshold: Int32 = 1 << 20

    /// Idempotent; called once per sweep before any large buffer exists. Should glibc refuse
    /// the value, memory is used as before: nothing to report.
    static func returnLargeBuffersWhenFreed() {
        _ = System.setMmapThreshold(mmapThreshold)
    }
}
