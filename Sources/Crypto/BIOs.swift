// Small helpers to move bytes in and out of OpenSSL memory BIOs.
internal import COpenSSL

enum MemoryBIO {
    /// A read-only BIO over a copy of `bytes` that reports a clean EOF at its end.
    /// `BIO_set_mem_eof_return(bio, 0)` matters: by default a memory BIO says "retry" at its
    /// end, and SMIME_read_CMS then fails with "not enough data".
    static func reading(_ bytes: [UInt8]) -> OpaquePointer {
        let bio = BIO_new(BIO_s_mem())!
        if !bytes.isEmpty {
            _ = bytes.withUnsafeBytes { BIO_write(bio, $0.baseAddress, Int32($0.count)) }
        }
        _ = spoolrun_BIO_set_mem_eof_return(bio, 0)
        return bio
    }

    static func writing() -> OpaquePointer { BIO_new(BIO_s_mem())! }

    /// Copies everything written to a memory BIO.
    static func contents(_ bio: OpaquePointer) -> [UInt8] {
        var ptr: UnsafeMutablePointer<CChar>? = nil
        let len = spoolrun_BIO_get_mem_data(bio, &ptr)
        guard len > 0, let ptr else { return [] }
        return ptr.withMemoryRebound(to: UInt8.self, capacity: len) {
            Array(UnsafeBufferPointer(start: $0, count: len))
        }
    }
}
