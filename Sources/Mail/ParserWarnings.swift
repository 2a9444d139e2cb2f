// GMime's parser reports what it had to guess at through a warning callback; the reader turns
// the ones a person should know about ("the message is truncated") into problem notes.
internal import CGMime

/// Collects notes from one GMime parse. Lent to C as the callback's user data.
final class ParserWarnings {
    private(set) var notes: [String] = []

    fileprivate func record(_ code: GMimeParserWarning) {
        let note: String
        switch code {
        case GMIME_WARN_TRUNCATED_MESSAGE: note = "the message is truncated; its last part may be incomplete"
        case GMIME_WARN_MALFORMED_MULTIPART: note = "a multipart has a missing or misplaced boundary"
        case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY: note = "a multipart names no boundary; its content is kept as one block"
        case GMIME_WARN_MALFORMED_MESSAGE: note = "the message is malformed"
        case GMIME_CRIT_NESTING_OVERFLOW: note = "parts nested too deeply were left unread"
        case GMIME_CRIT_INVALID_HEADER_NAME: note = "a header field has an invalid name; some of the message may be missing"
        case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT: note = "a body part is empty"
        default: return  // duplicated or conflicting fields, 8-bit headers: nothing the reader loses
        }
        if !notes.contains(note) { notes.append(note) }
    }
}

/// The GMime callback: no captures, the collector arrives as user data.
private let parserWarning: GMimeParserWarningFunc = { _, code, _, userData in
    guard let userData else { return }
    Unmanaged<ParserWarnings>.fromOpaque(userData).takeUnretainedValue().record(code)
}

extension GMimeReading {
    /// Parses `bytes` as an RFC 5322 message, reporting parser warnings to `warnings` (which
    /// the caller keeps alive), and lends the message to `body`.
    static func withMessage<T>(_ bytes: [UInt8], warnings: ParserWarnings,
                               _ body: (UnsafeMutablePointer<GMimeMessage>) throws -> T) rethrows -> T? {
        GMimeRuntime.ensure()
        // GMime's header lists keep a pointer to the options (and the callback may fire while
        // headers are decoded lazily), so they outlive everything built from them: this defer
        // runs last.
        guard let options = g_mime_parser_options_new() else { return nil }
        defer { g_mime_parser_options_free(options) }
        g_mime_parser_options_set_warning_callback(options, parserWarning,
                                                   Unmanaged.passUnretained(warnings).toOpaque())
        return try GMimeStreamAccess.withStream(over: bytes) { stream in
            let parser = g_mime_parser_new_with_stream(stream)
            defer { unref(parser) }
            guard let message = g_mime_parser_construct_message(parser, options) else { return nil }
            defer { unref(message) }
            return try body(message)
        }
    }
}
