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

/// Parsing and decoding shared by the readers in this module.
enum GMimeReading {
    /// Parses `bytes` as a MIME entity and lends it to `body`; nil when GMime finds none.
    static func withPart<T>(_ bytes: [UInt8], _ body: (UnsafeMutablePointer<GMimeObject>) throws -> T) rethrows -> T? {
        GMimeRuntime.ensure()
        let stream = GMimeStreamAccess.stream(copying: bytes)
        defer { unref(stream) }
        let parser = g_mime_parser_new_with_stream(stream)
        defer { unref(parser) }
        guard let entity = g_mime_parser_construct_part(parser, nil) else { return nil }
        defer { unref(entity) }
        return try body(entity)
    }

    /// Parses `bytes` as an RFC 5322 message and lends it to `body`.
    static func withMessage<T>(_ bytes: [UInt8], _ body: (UnsafeMutablePointer<GMimeMessage>) throws -> T) rethrows -> T? {
        GMimeRuntime.ensure()
        let stream = GMimeStreamAccess.stream(copying: bytes)
        defer { unref(stream) }
        let parser = g_mime_parser_new_with_stream(stream)
        defer { unref(parser) }
        guard let message = g_mime_parser_construct_message(parser, nil) else { return nil }
        defer { unref(message) }
        return try body(message)
    }

    /// A leaf part's body with its Content-Transfer-Encoding undone.
    static func decodedContent(_ part: UnsafeMutablePointer<GMimePart>?) -> [UInt8] {
        guard let content = g_mime_part_get_content(part) else { return [] }
        let out = g_mime_stream_mem_new()!
        defer { unref(out) }
        g_mime_data_wrapper_write_to_stream(content, out)
        return GMimeStreamAccess.bytes(of: out)
    }

    /// An object serialised as GMime writes it.
    static func serialized(_ object: UnsafeMutablePointer<GMimeObject>?) -> [UInt8] {
        let out = g_mime_stream_mem_new()!
        defer { unref(out) }
        g_mime_object_write_to_stream(object, nil, out)
        return GMimeStreamAccess.bytes(of: out)
    }

    /// A content type's "type/subtype", lower-cased.
    static func mediaType(_ ct: UnsafeMutablePointer<GMimeContentType>?) -> (type: String, subtype: String) {
        func lower(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0).lowercased() } ?? "" }
        return (lower(g_mime_content_type_get_media_type(ct)), lower(g_mime_content_type_get_media_subtype(ct)))
    }
}
