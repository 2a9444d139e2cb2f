// GMime must be initialised once per process before any parser is used.
// package: the tunnel's readers (the Tunnel target) use these helpers with the C types.
package import CGMime

package enum GMimeRuntime {
    private static let initialized: Bool = {
        g_mime_init()
        return true
    }()

    package static func ensure() { _ = initialized }
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

    /// Lends `body` a read-only memory stream over `bytes` themselves, without copying them:
    /// a tunnel message is parsed three times on its way in, and each copy of tens of MB
    /// costs time and peak memory. GMime's parser only reads its stream, and the parts it
    /// builds refer to substreams of it, so everything made from the stream must be released
    /// inside `body` (the readers below do: they unref the parse before returning).
    static func withStream<T>(over bytes: [UInt8], _ body: (UnsafeMutablePointer<GMimeStream>) throws -> T) rethrows -> T {
        try bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress, buf.count > 0, buf.count <= Int(UInt32.max) else {
                let stream = stream(copying: bytes)
                defer { unref(stream) }
                return try body(stream)
            }
            // The GByteArray only points at the bytes: the stream does not own it (set_owner
            // FALSE), and g_byte_array_free(_, FALSE) below frees the array header but returns
            // the data rather than freeing it. Nothing writes to the stream, so GLib never
            // reallocates the borrowed memory.
            let array = g_byte_array_new_take(UnsafeMutablePointer(mutating: base), gsize(buf.count))!
            defer { _ = g_byte_array_free(array, 0) }
            let stream = g_mime_stream_mem_new_with_byte_array(array)!
            defer { unref(stream) }
            g_mime_stream_mem_set_owner(spoolrun_gmime_stream_as_mem(stream), 0)
            return try body(stream)
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
package enum GMimeReading {
    /// Parses `bytes` as a MIME entity and lends it to `body`; nil when GMime finds none.
    package static func withPart<T>(_ bytes: [UInt8], _ body: (UnsafeMutablePointer<GMimeObject>) throws -> T) rethrows -> T? {
        GMimeRuntime.ensure()
        return try GMimeStreamAccess.withStream(over: bytes) { stream in
            let parser = g_mime_parser_new_with_stream(stream)
            defer { unref(parser) }
            guard let entity = g_mime_parser_construct_part(parser, nil) else { return nil }
            defer { unref(entity) }
            return try body(entity)
        }
    }

    /// Parses `bytes` as an RFC 5322 message and lends it to `body`.
    package static func withMessage<T>(_ bytes: [UInt8], _ body: (UnsafeMutablePointer<GMimeMessage>) throws -> T) rethrows -> T? {
        GMimeRuntime.ensure()
        return try GMimeStreamAccess.withStream(over: bytes) { stream in
            let parser = g_mime_parser_new_with_stream(stream)
            defer { unref(parser) }
            guard let message = g_mime_parser_construct_message(parser, nil) else { return nil }
            defer { unref(message) }
            return try body(message)
        }
    }

    /// A leaf part's body with its Content-Transfer-Encoding undone: what
    /// g_mime_data_wrapper_write_to_stream writes (GMime's base64 and quoted-printable
    /// decoders, step by step and flushed at the end; other encodings as they are), decoded
    /// straight into the array that is returned. Base64 goes through `GMimeBase64Decoder`,
    /// which gives GMime's result faster.
    package static func decodedContent(_ part: UnsafeMutablePointer<GMimePart>?) -> [UInt8] {
        guard let wrapper = g_mime_part_get_content(part),  // borrowed
              let source = g_mime_data_wrapper_get_stream(wrapper) else { return [] }  // borrowed (GMime 3)
        let encoding = g_mime_data_wrapper_get_encoding(wrapper)
        // uuencode: GMime's filter first looks for the "begin" line, which the bare decoder
        // does not; such parts are rare and small, so they take GMime's own path.
        if encoding == GMIME_CONTENT_ENCODING_UUENCODE { return decodedContentThroughMemoryStream(part) }
        // Any other stream (none of the readers here makes one) takes GMime's path too.
        return withContiguousContent(of: source) { decoded($0, encoding: encoding) } ?? decodedContentThroughMemoryStream(part)
    }

    /// Lends `body` the bytes a memory stream (or a substream of one) would read, in place.
    /// The parser's parts are such substreams when it parses from memory, as every reader
    /// here does; the stream is left as it was. Nil for any other stream.
    private static func withContiguousContent<T>(of stream: UnsafeMutablePointer<GMimeStream>,
                                                 _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T? {
        let isMemory = UnsafeMutableRawPointer(stream).withMemoryRebound(to: GTypeInstance.self, capacity: 1) {
            g_type_check_instance_is_a($0, g_mime_stream_mem_get_type()) != 0
        }
        guard isMemory, let array = g_mime_stream_mem_get_byte_array(spoolrun_gmime_stream_as_mem(stream)) else { return nil }  // borrowed
        // GMime's memory stream reads from bound_start to bound_end, or to the end of its
        // array when bound_end is -1.
        let length = gint64(array.pointee.len)
        let start = stream.pointee.bound_start
        let end = stream.pointee.bound_end == -1 ? length : min(stream.pointee.bound_end, length)
        guard start >= 0, start <= end else { return nil }
        guard let data = array.pointee.data else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        return body(UnsafeBufferPointer(start: data + Int(start), count: Int(end - start)))
    }

    /// `encoded` with `encoding` undone, in one step and one flush.
    private static func decoded(_ encoded: UnsafeBufferPointer<UInt8>, encoding: GMimeContentEncoding) -> [UInt8] {
        if encoding == GMIME_CONTENT_ENCODING_BASE64 {
            var decoder = GMimeBase64Decoder()
            // The decoder's bound holds for the whole input, so the array is 3/4 of it, not
            // a step's outlen (the input plus 3).
            return [UInt8](unsafeUninitializedCapacity: decoder.maximumOutput(forInputCount: encoded.count) + 4) { out, count in
                count = decoder.decode(encoded, into: out.baseAddress!)
                count += decoder.finish(into: out.baseAddress! + count)
            }
        }
        if encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE {
            var state = GMimeEncoding()
            g_mime_encoding_init_decode(&state, encoding)
            // The quoted-printable decoder never writes more than it reads, plus its outlen's
            // margin; the flush has no input and writes at most what the state holds.
            return [UInt8](unsafeUninitializedCapacity: g_mime_encoding_outlen(&state, encoded.count) + 4) { out, count in
                let base = UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self)
                encoded.withMemoryRebound(to: CChar.self) { count = g_mime_encoding_step(&state, $0.baseAddress, $0.count, base) }
                count += g_mime_encoding_flush(&state, nil, 0, base + count)
            }
        }
        return Array(encoded)
    }

    /// The same through GMime's own data-wrapper path: the reference that tests hold
    /// `decodedContent` to, byte for byte.
    static func decodedContentThroughMemoryStream(_ part: UnsafeMutablePointer<GMimePart>?) -> [UInt8] {
        guard let content = g_mime_part_get_content(part) else { return [] }
        let out = g_mime_stream_mem_new()!
        defer { unref(out) }
        g_mime_data_wrapper_write_to_stream(content, out)
        return GMimeStreamAccess.bytes(of: out)
    }

    /// Every leaf part of the message in `bytes`, in order, decoded by `decodedContent` and
    /// by the reference path: for tests.
    static func leafDecodings(of bytes: [UInt8]) -> [(decoded: [UInt8], reference: [UInt8])] {
        func walk(_ object: UnsafeMutablePointer<GMimeObject>?, into out: inout [([UInt8], [UInt8])]) {
            guard let object else { return }
            if spoolrun_gmime_is_multipart(object) != 0 {
                let multipart = spoolrun_gmime_as_multipart(object)
                for i in 0..<max(0, g_mime_multipart_get_count(multipart)) {
                    walk(g_mime_multipart_get_part(multipart, i), into: &out)  // borrowed
                }
            } else if spoolrun_gmime_is_message_part(object) != 0 {
                let message = g_mime_message_part_get_message(spoolrun_gmime_as_message_part(object))  // borrowed
                walk(message.flatMap { g_mime_message_get_mime_part($0) }, into: &out)
            } else if spoolrun_gmime_is_part(object) != 0 {
                let part = spoolrun_gmime_as_part(object)
                out.append((decodedContent(part), decodedContentThroughMemoryStream(part)))
            }
        }
        return withMessage(bytes) { message in
            var out: [([UInt8], [UInt8])] = []
            walk(g_mime_message_get_mime_part(message), into: &out)
            return out.map { (decoded: $0.0, reference: $0.1) }
        } ?? []
    }

    /// An object serialised as GMime writes it.
    package static func serialized(_ object: UnsafeMutablePointer<GMimeObject>?) -> [UInt8] {
        let out = g_mime_stream_mem_new()!
        defer { unref(out) }
        g_mime_object_write_to_stream(object, nil, out)
        return GMimeStreamAccess.bytes(of: out)
    }

    /// A content type's "type/subtype", lower-cased.
    package static func mediaType(_ ct: UnsafeMutablePointer<GMimeContentType>?) -> (type: String, subtype: String) {
        func lower(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0).lowercased() } ?? "" }
        return (lower(g_mime_content_type_get_media_type(ct)), lower(g_mime_content_type_get_media_subtype(ct)))
    }
}
