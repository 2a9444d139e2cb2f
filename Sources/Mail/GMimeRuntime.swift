// GMime must be initialised once per process before any parser is used.
internal import CGMime

enum GMimeRuntime {
    private static let initialized: Bool = {
        g_mime_init()
        return true
    }()

    static func ensure() { _ = initialized }
}

/// Owned GObject references are released through this one helper.
@inline(__always) func unref(_ object: UnsafeMutableRawPointer?) {
    if let object { spoolrun_g_object_unref(object) }
}

extension GMimeStreamAccess {
    /// A memory stream holding a copy of `bytes`.
    static func stream(copying bytes: [UInt8]) -> UnsafeMutablePointer<GMimeStream> {
        bytes.withUnsafeBufferPointer { buf in
            g_mime_stream_mem_new_with_buffer(buf.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                                              buf.count)
        }
    }

    /// Everything written to a memory stream.
    static func bytes(of stream: UnsafeMutablePointer<GMimeStream>) -> [UInt8] {
        guard let array = g_mime_stream_mem_get_byte_array(spoolrun_gmime_stream_as_mem(stream)),
              let data = array.pointee.data else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: Int(array.pointee.len)))
    }
}

enum GMimeStreamAccess {}
