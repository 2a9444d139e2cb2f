// Small helpers to move bytes in and out of OpenSSL BIOs. Large contents (a tunnel message
// can be 50 MB) go through the borrowing reader and the array sink, which copy nothing
// beyond the one output array: a memory BIO copies its input, and grows its output by
// allocating, copying and cleansing again and again.
internal import COpenSSL

package enum MemoryBIO {
    /// A read-only BIO over a copy of `bytes` that reports a clean EOF at its end.
    /// `BIO_set_mem_eof_return(bio, 0)` matters: by default a memory BIO says "retry" at its
    /// end, and SMIME_read_CMS then fails with "not enough data".
    package static func reading(_ bytes: [UInt8]) -> OpaquePointer {
        let bio = BIO_new(BIO_s_mem())!
        if !bytes.isEmpty {
            _ = bytes.withUnsafeBytes { BIO_write(bio, $0.baseAddress, Int32($0.count)) }
        }
        _ = spoolrun_BIO_set_mem_eof_return(bio, 0)
        return bio
    }

    /// Lends `body` a read-only BIO over `bytes` themselves (BIO_new_mem_buf: no copy, and a
    /// clean EOF at the end since static data cannot grow). The BIO must not outlive `body`.
    package static func borrowing<T>(_ bytes: [UInt8], _ body: (OpaquePointer) throws -> T) throws -> T {
        guard bytes.count <= Int(Int32.max) else { throw OpenSSLError(operation: "more than 2 GB for one BIO", reasons: []) }
        return try bytes.withUnsafeBytes { buf in
            // A zero-length buffer still needs a non-nil pointer: BIO_new_mem_buf(NULL, 0) fails.
            var empty: UInt8 = 0
            let bio = try withUnsafePointer(to: &empty) { fallback -> OpaquePointer in
                guard let bio = BIO_new_mem_buf(buf.baseAddress ?? UnsafeRawPointer(fallback), Int32(buf.count)) else {
                    throw OpenSSLError.drain("BIO_new_mem_buf")
                }
                return bio
            }
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }

    package static func writing() -> OpaquePointer { BIO_new(BIO_s_mem())! }

    /// Copies everything written to a memory BIO.
    package static func contents(_ bio: OpaquePointer) -> [UInt8] {
        var ptr: UnsafeMutablePointer<CChar>? = nil
        let len = spoolrun_BIO_get_mem_data(bio, &ptr)
        guard len > 0, let ptr else { return [] }
        return ptr.withMemoryRebound(to: UInt8.self, capacity: len) {
            Array(UnsafeBufferPointer(start: $0, count: len))
        }
    }
}

/// A write-only BIO that appends straight to a Swift array: OpenSSL's output lands once, in
/// the memory that becomes the result.
package final class ArraySinkBIO {
    private(set) var bytes: [UInt8] = []

    /// `expected` reserves the array up front (an upper bound is best: unused capacity is
    /// never touched, so it costs address space, not resident memory).
    package init(expected: Int = 0) {
        if expected > 0 { bytes.reserveCapacity(expected) }
    }

    /// Lends `body` a BIO that appends to `bytes`; the BIO must not outlive `body`.
    package func withBIO<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        guard let bio = BIO_new(Self.method) else { throw OpenSSLError.drain("BIO_new (array sink)") }
        defer { BIO_free(bio) }
        return try withExtendedLifetime(self) {
            BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())  // borrowed: `self` outlives the BIO
            BIO_set_init(bio, 1)
            return try body(bio)
        }
    }

    /// Takes the collected bytes out of the sink.
    package func take() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }

    fileprivate func append(_ data: UnsafeRawBufferPointer) { bytes.append(contentsOf: data) }

    /// One method table for the process, never freed. The callbacks capture nothing: the
    /// sink arrives as the BIO's data pointer. nonisolated(unsafe): the table is written once,
    /// inside the lazy initialiser, and only read afterwards (OpenSSL reads it per BIO).
    private nonisolated(unsafe) static let method: OpaquePointer = {
        let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "spoolrun array sink")!
        _ = BIO_meth_set_write(method) { bio, data, length in
            guard let bio, length >= 0, let context = BIO_get_data(bio) else { return -1 }
            if length > 0, let data {
                Unmanaged<ArraySinkBIO>.fromOpaque(context).takeUnretainedValue()
                    .append(UnsafeRawBufferPointer(start: data, count: Int(length)))
            }
            return length
        }
        // Flushing has nothing to do; every other control is unsupported (0), as for a null BIO.
        _ = BIO_meth_set_ctrl(method) { _, command, _, _ in command == BIO_CTRL_FLUSH ? 1 : 0 }
        return method
    }()
}
