// MessageParser's GMime side: walks GMime's tree of a message and decides what is body,
// what is an inline part and what is an attachment. The choice of bodies follows JMAP's
// parseStructure (RFC 8621 §4.1.4): in multipart/mixed the first part and unnamed text
// parts are bodies; in multipart/alternative the last HTML and the last plain-text
// alternative win; in multipart/related the root is the body and the rest are inline parts.
internal import CGMime
import Foundation

/// One read of a message, shared by the messages embedded in it: the parts limit and the
/// download numbering run across all of them.
final class MessageReader {
    let limits: MIMELimits
    private var partCount = 0
    private var nextIndex = 1
    /// Bytes copied out so far (attachment data and embedded messages). Each level of
    /// embedded message copies its content again, so deep nesting of a large message could
    /// multiply it; past the budget, embedded messages are kept for download but not read.
    private var retainedBytes = 0
    private let byteBudget: Int
    /// The bytes GMime is parsing now (its header offsets point into them), and the
    /// boundaries of the multiparts around the part being visited, innermost last.
    private var source: [UInt8] = []
    private var boundaries: [[UInt8]] = []

    init(limits: MIMELimits, inputSize: Int) {
        self.limits = limits
        byteBudget = max(8 * inputSize, 16 << 20)
    }

    /// Reads `bytes` as a message whose body is at nesting level `depth`. Nil when GMime finds
    /// no message in them at all.
    func read(_ bytes: [UInt8], pathPrefix: String, depth: Int) throws -> ParsedMessage? {
        try MIMEPrescan.check(bytes, limits: limits, partsAllowed: limits.maxParts - partCount)
        let bodyStart = MIMEPrescan.bodyStartInHeaderBlock(bytes)
        if bodyStart == nil, let parsed = try parse(bytes, pathPrefix: pathPrefix, depth: depth, notes: []) {
            return parsed
        }
        if let at = bodyStart, at > 0,
           let parsed = try parse(Array(bytes[..<at]) + [10] + bytes[at...], pathPrefix: pathPrefix, depth: depth,
                                  notes: ["the header block has no empty line after it; the body is taken to start "
                                          + "at the first line that is not a header field"]) {
            return parsed
        }
        // No header fields at all (GMime gives up when the first line is not one): read the
        // bytes as the body of a message without header fields.
        return try parse([10] + bytes, pathPrefix: pathPrefix, depth: depth,
                         notes: ["no header fields could be read; the whole message is shown as its body"])
    }

    /// One GMime parse of `bytes`; the nested state is restored afterwards, so that an encoded
    /// message inside a part can be parsed on its own.
    private func parse(_ bytes: [UInt8], pathPrefix: String, depth: Int, notes: [String]) throws -> ParsedMessage? {
        let outer = (source, boundaries)
        (source, boundaries) = (bytes, [])
        defer { (source, boundaries) = outer }
        let warnings = ParserWarnings()
        let parsed = try withExtendedLifetime(warnings) {
            try GMimeReading.withMessage(bytes, warnings: warnings) { try read($0, pathPrefix: pathPrefix, depth: depth) }
        }
        return parsed?.noting(notes + warnings.notes, at: pathPrefix)
    }

    /// Reads a message GMime has built; its body is at nesting level `depth`.
    func read(_ message: UnsafeMutablePointer<GMimeMessage>, pathPrefix: String, depth: Int) throws -> ParsedMessage {
        let body = g_mime_message_get_mime_part(message)  // borrowed
        // GMime keeps the Content-* fields of a message on its body; together they are one block.
        let headerBytes = Self.headerBytes(spoolrun_gmime_message_as_object(message)) + (body.map(Self.headerBytes) ?? 0)
        guard headerBytes <= limits.maxHeaderBytes else { throw MIMEError.headerLimit(limits.maxHeaderBytes) }

        var parsed = ParsedMessage()
        parsed.subject = Self.subject(message)
        parsed.from = Self.addresses(g_mime_message_get_from(message))
        parsed.to = Self.addresses(g_mime_message_get_to(message))
        parsed.cc = Self.addresses(g_mime_message_get_cc(message))
        parsed.replyTo = Self.addresses(g_mime_message_get_reply_to(message))
        if let date = g_mime_message_get_date(message) {  // borrowed
            parsed.date = Date(timeIntervalSince1970: Double(g_date_time_to_unix(date))
                + Double(g_date_time_get_microsecond(date)) / 1_000_000)
        }
        parsed.messageID = g_mime_message_get_message_id(message).map { String(cString: $0) }

        var collected = Collected()
        if let body {
            let path = spoolrun_gmime_is_multipart(body) != 0 ? pathPrefix : Self.child(pathPrefix, 0)
            try visit(body, path: path, depth: depth, parent: nil, isFirst: true, into: &collected)
        }
        finish(collected, into: &parsed)
        return parsed
    }

    // MARK: - The walk

    private func visit(_ object: UnsafeMutablePointer<GMimeObject>, path: String, depth: Int, parent: String?,
                       isFirst: Bool, into c: inout Collected) throws {
        partCount += 1
        guard partCount <= limits.maxParts else { throw MIMEError.partsLimit(limits.maxParts) }
        guard depth <= limits.maxDepth else { throw MIMEError.depthLimit(limits.maxDepth) }
        guard Self.headerBytes(object) <= limits.maxHeaderBytes else { throw MIMEError.headerLimit(limits.maxHeaderBytes) }

        if spoolrun_gmime_is_multipart(object) != 0 {
            try visitMultipart(spoolrun_gmime_as_multipart(object), object: object, path: path, depth: depth, into: &c)
        } else if spoolrun_gmime_is_message_part(object) != 0 {
            try visitMessagePart(spoolrun_gmime_as_message_part(object), object: object, path: path, depth: depth,
                                 into: &c)
        } else if spoolrun_gmime_is_part(object) != 0 {
            try visitLeaf(spoolrun_gmime_as_part(object), object: object, path: path, depth: depth, parent: parent,
                          isFirst: isFirst, into: &c)
        }
    }

    private func visitMultipart(_ multipart: UnsafeMutablePointer<GMimeMultipart>, object: UnsafeMutablePointer<GMimeObject>,
                                path: String, depth: Int, into c: inout Collected) throws {
        let contentType = g_mime_object_get_content_type(object)
        let subtype = GMimeReading.mediaType(contentType).subtype
        let children = (0..<max(0, g_mime_multipart_get_count(multipart))).compactMap {
            g_mime_multipart_get_part(multipart, $0)  // borrowed
        }
        if children.isEmpty {
            // No delimiter was found (or no boundary named): GMime keeps all the content as
            // the prologue. Show it rather than nothing.
            if let prologue = g_mime_multipart_get_prologue(multipart), prologue.pointee != 0 {
                let body = BodyPart(path: path, isHTML: false, bytes: Self.bytes(of: prologue), charset: nil,
                                    isFlowed: false, delSp: false)
                c.text.append(body)
                c.html.append(body)
                c.problems.append("\(Self.label(path)): no body parts were found; the raw content is shown as text")
            }
            return
        }
        let boundary = g_mime_multipart_get_boundary(multipart).map { Self.bytes(of: $0) }
        if let boundary { boundaries.append(boundary) }
        defer { if boundary != nil { boundaries.removeLast() } }
        switch subtype {
        case "alternative":
            // RFC 2046 §5.1.4: the alternatives come in increasing faithfulness, so the last
            // one of each kind wins. The losers' bodies are the same content again and are
            // dropped; anything else in them (a text/calendar, say) stays an attachment.
            var alternatives: [Collected] = []
            for (i, child) in children.enumerated() {
                var sub = Collected()
                try visit(child, path: Self.child(path, i), depth: depth + 1, parent: subtype, isFirst: i == 0,
                          into: &sub)
                alternatives.append(sub)
            }
            let html = alternatives.lastIndex { $0.html.contains { $0.isHTML } }
            let text = alternatives.lastIndex { $0.text.contains { !$0.isHTML } }
            if let h = html ?? text { c.html += alternatives[h].html }
            if let t = text ?? html { c.text += alternatives[t].text }
            for sub in alternatives {
                c.attachments += sub.attachments
                c.embedded += sub.embedded
                c.problems += sub.problems
            }
        case "related":
            // RFC 2387 §3.2: the root is the part the "start" parameter names, else the first.
            // MHTML writers sometimes put the images first and name only the root's type
            // (§3.1 "type"): then the first part of that type is the root.
            var root = 0
            if let start = g_mime_content_type_get_parameter(contentType, "start").map({ Self.bareID(String(cString: $0)) }),
               let i = children.firstIndex(where: { g_mime_object_get_content_id($0).map { String(cString: $0) } == start }) {
                root = i
            } else if let type = Self.parameter(contentType, "type")?.lowercased() {
                let typeOf = { (child: UnsafeMutablePointer<GMimeObject>) -> String in
                    let media = GMimeReading.mediaType(g_mime_object_get_content_type(child))
                    return "\(media.type)/\(media.subtype)"
                }
                if typeOf(children[0]) != type, let i = children.firstIndex(where: { typeOf($0) == type }) { root = i }
            }
            for (i, child) in children.enumerated() {
                try visit(child, path: Self.child(path, i), depth: depth + 1, parent: subtype, isFirst: i == root,
                          into: &c)
            }
        default:
            // mixed, and every subtype RFC 2046 §5.1.7 says to treat as mixed (signed,
            // report, digest, encrypted...).
            for (i, child) in children.enumerated() {
                try visit(child, path: Self.child(path, i), depth: depth + 1, parent: subtype, isFirst: i == 0,
                          into: &c)
            }
        }
    }

    private func visitLeaf(_ part: UnsafeMutablePointer<GMimePart>, object: UnsafeMutablePointer<GMimeObject>,
                           path: String, depth: Int, parent: String?, isFirst: Bool, into c: inout Collected) throws {
        let contentType = g_mime_object_get_content_type(object)
        let media = GMimeReading.mediaType(contentType)
        let mediaType = "\(media.type)/\(media.subtype)"
        let name = g_mime_part_get_filename(part).map { String(cString: $0) }

        // GMime does not parse a message/rfc822 part that is base64 or quoted-printable
        // encoded; it hands it over as a leaf.
        if media.type == "message", ["rfc822", "global", "news"].contains(media.subtype) {
            try embedEncodedMessage(part, name: name, path: path, depth: depth, into: &c)
            return
        }

        let disposition = g_mime_object_get_disposition(object).map { String(cString: $0).lowercased() }
        let isBodyType = mediaType == "text/plain" || mediaType == "text/html"
        // A text part is a body unless it is marked as an attachment, or it is named and not
        // the first part; in multipart/related only the root is.
        if isBodyType, disposition != "attachment", isFirst || (parent != "related" && name == nil) {
            let body = BodyPart(path: path, isHTML: mediaType == "text/html", bytes: GMimeReading.decodedContent(part),
                                charset: Self.parameter(contentType, "charset"),
                                isFlowed: Self.parameter(contentType, "format")?.lowercased() == "flowed",
                                delSp: Self.parameter(contentType, "delsp")?.lowercased() == "yes")
            c.text.append(body)
            c.html.append(body)
            return
        }

        let data = GMimeReading.decodedContent(part)
        retainedBytes += data.count
        let index = takeIndex()
        c.attachments.append(Attachment(
            index: index,
            filename: AttachmentName.sanitized(name) ?? AttachmentName.fallback(index: index, mediaType: mediaType),
            mediaType: mediaType, data: data,
            contentID: g_mime_object_get_content_id(object).map { String(cString: $0) },
            isInline: parent == "related" && !isFirst))
    }

    private func visitMessagePart(_ messagePart: UnsafeMutablePointer<GMimeMessagePart>,
                                  object: UnsafeMutablePointer<GMimeObject>, path: String, depth: Int,
                                  into c: inout Collected) throws {
        let index = takeIndex()
        let name = (g_mime_object_get_content_disposition_parameter(object, "filename")
            ?? g_mime_object_get_content_type_parameter(object, "name")).map { String(cString: $0) }
        let filename = AttachmentName.sanitized(name) ?? AttachmentName.fallback(index: index, mediaType: "message/rfc822")
        guard let message = g_mime_message_part_get_message(messagePart) else {  // borrowed
            c.embedded.append(EmbeddedMessage(index: index, raw: [], parsed: nil, filename: filename))
            c.problems.append("\(Self.label(path)): the attached message is empty")
            return
        }
        let raw = exactBytes(of: message) ?? GMimeReading.serialized(spoolrun_gmime_message_as_object(message))
        retainedBytes += raw.count
        var parsed: ParsedMessage? = nil
        if retainedBytes <= byteBudget {
            parsed = try read(message, pathPrefix: path, depth: depth + 1)
            c.problems += parsed?.problems ?? []
        } else {
            c.problems.append("\(Self.label(path)): the attached message is offered for download but not shown (too large)")
        }
        c.embedded.append(EmbeddedMessage(index: index, raw: raw, parsed: parsed, filename: filename))
    }

    private func embedEncodedMessage(_ part: UnsafeMutablePointer<GMimePart>, name: String?, path: String, depth: Int,
                                     into c: inout Collected) throws {
        let index = takeIndex()
        let filename = AttachmentName.sanitized(name) ?? AttachmentName.fallback(index: index, mediaType: "message/rfc822")
        let raw = GMimeReading.decodedContent(part)
        retainedBytes += raw.count
        var parsed: ParsedMessage? = nil
        if raw.isEmpty {
            c.problems.append("\(Self.label(path)): the attached message is empty")
        } else if retainedBytes > byteBudget {
            c.problems.append("\(Self.label(path)): the attached message is offered for download but not shown (too large)")
        } else {
            parsed = try read(raw, pathPrefix: path, depth: depth + 1)
            if let parsed {
                c.problems += parsed.problems
            } else {
                c.problems.append("\(Self.label(path)): the attached message could not be read")
            }
        }
        c.embedded.append(EmbeddedMessage(index: index, raw: raw, parsed: parsed, filename: filename))
    }

    /// The embedded message exactly as sent, cut from the source: from its first header field
    /// (GMime records each field's offset) to the line break before the next line that GMime
    /// takes for a delimiter of an enclosing multipart (RFC 2046 §5.1.1: that line break
    /// belongs to the delimiter). Exact bytes keep a forwarded message's signatures valid;
    /// GMime's own serialisation would turn CRLF into LF. Nil when GMime kept no offsets.
    private func exactBytes(of message: UnsafeMutablePointer<GMimeMessage>) -> [UInt8]? {
        var start = Int.max
        for object in [spoolrun_gmime_message_as_object(message), g_mime_message_get_mime_part(message)] {
            guard let object, let list = g_mime_object_get_header_list(object) else { continue }  // borrowed
            for i in 0..<max(0, g_mime_header_list_get_count(list)) {
                if let header = g_mime_header_list_get_header_at(list, i) {
                    let offset = g_mime_header_get_offset(header)
                    if offset >= 0 { start = min(start, Int(offset)) }
                }
            }
        }
        guard start < source.count, start == 0 || source[start - 1] == 10 else { return nil }
        var end = source.count
        source.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            var line = start
            while line < buf.count {
                let next = memchr(base + line, 10, buf.count - line)
                    .map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) } ?? buf.count
                if buf[line] == 45, line + 1 < next, buf[line + 1] == 45,
                   boundaries.contains(where: { Self.isDelimiter(buf[(line + 2)..<next], $0) }) {
                    end = line
                    return
                }
                line = next + 1
            }
        }
        if end > start, source[end - 1] == 10 { end -= 1 }
        if end > start, source[end - 1] == 13 { end -= 1 }
        return Array(source[start..<end])
    }

    /// GMime's rule (is_boundary): the boundary, optionally "--", then only white space.
    private static func isDelimiter(_ rest: Slice<UnsafeBufferPointer<UInt8>>, _ boundary: [UInt8]) -> Bool {
        guard rest.count >= boundary.count, rest.prefix(boundary.count).elementsEqual(boundary) else { return false }
        var tail = rest.dropFirst(boundary.count)
        if tail.starts(with: [45, 45]) { tail = tail.dropFirst(2) }
        return tail.allSatisfy { $0 == 32 || $0 == 9 || $0 == 13 }
    }

    private func takeIndex() -> Int {
        defer { nextIndex += 1 }
        return nextIndex
    }

    // MARK: - Bodies

    /// Turns the collected parts into the message's bodies and lists.
    private func finish(_ c: Collected, into parsed: inout ParsedMessage) {
        var problems: [String] = []
        var texts: [String: String] = [:]
        func text(_ part: BodyPart) -> String {
            if let done = texts[part.path] { return done }
            let decoded = TextDecoding.decode(part.bytes, charset: part.charset)
            if let problem = decoded.problem { problems.append("\(Self.label(part.path)): \(problem)") }
            var s = decoded.text.normalizingLineEnds()
            if part.isFlowed { s = FormatFlowed.unwrap(s, delSp: part.delSp) }
            texts[part.path] = s
            return s
        }

        let plain = c.text.filter { !$0.isHTML }
        if !plain.isEmpty {
            parsed.textBody = plain.map(text).reduce(into: "") { joined, next in
                if !joined.isEmpty, !joined.hasSuffix("\n") { joined += "\n" }
                joined += next
            }
        }

        if c.html.contains(where: { $0.isHTML }) {
            if c.html.count == 1, let only = c.html.first {
                parsed.htmlBody = singleHTML(only, problems: &problems)
            } else {
                // Several parts shown one after the other (JMAP's htmlBody list): one UTF-8
                // document, plain parts as preformatted text.
                var html = ""
                for part in c.html {
                    if !html.isEmpty { html += "\n" }
                    if part.isHTML {
                        let decoded = TextDecoding.decode(part.bytes, charset: part.charset)
                        if let problem = decoded.problem { problems.append("\(Self.label(part.path)): \(problem)") }
                        html += decoded.text
                    } else {
                        html += "<pre>" + HTMLEscape.text(text(part)) + "</pre>"
                    }
                }
                parsed.htmlBody = HTMLBody(bytes: Array(html.utf8), charset: "utf-8")
            }
        }

        parsed.attachments = c.attachments
        parsed.embeddedMessages = c.embedded
        parsed.problems += problems + c.problems
    }

    /// One HTML part goes to the sanitizer as sent, unless its charset is one the sanitizer
    /// could not convert either.
    private func singleHTML(_ part: BodyPart, problems: inout [String]) -> HTMLBody {
        guard let charset = part.charset?.trimmingWhitespace().trimmingQuotes(), !charset.isEmpty else {
            return HTMLBody(bytes: part.bytes, charset: nil)
        }
        if TextDecoding.isKnown(charset) { return HTMLBody(bytes: part.bytes, charset: charset) }
        let decoded = TextDecoding.decode(part.bytes, charset: charset)
        if let problem = decoded.problem { problems.append("\(Self.label(part.path)): \(problem)") }
        return HTMLBody(bytes: Array(decoded.text.utf8), charset: "utf-8")
    }

    // MARK: - Helpers

    /// IMAP part numbers (RFC 3501 §6.4.5): "1", "1.2"; `index` counts from 0.
    static func child(_ path: String, _ index: Int) -> String {
        path.isEmpty ? "\(index + 1)" : "\(path).\(index + 1)"
    }

    static func label(_ path: String) -> String { path.isEmpty ? "message" : "part \(path)" }

    /// The subject, decoded. Encoded words are decoded by us (EncodedWords: Debian's GMime
    /// cuts a subject of several padded base64 words short); a raw 8-bit subject is left to
    /// GMime, which guesses its charset.
    static func subject(_ message: UnsafeMutablePointer<GMimeMessage>) -> String? {
        let decoded = g_mime_message_get_subject(message).map { String(cString: $0) }
        guard let list = g_mime_object_get_header_list(spoolrun_gmime_message_as_object(message)),  // borrowed
              let header = g_mime_header_list_get_header(list, "Subject"),  // borrowed
              let raw = g_mime_header_get_raw_value(header).map({ String(cString: $0) }),
              raw.utf8.allSatisfy({ $0 < 0x80 }), raw.contains("=?") else { return decoded }
        return HeaderBlock.decode(raw)
    }

    /// Bytes of an entity's own header fields, as GMime holds them.
    static func headerBytes(_ object: UnsafeMutablePointer<GMimeObject>) -> Int {
        guard let list = g_mime_object_get_header_list(object) else { return 0 }  // borrowed
        var total = 0
        for i in 0..<max(0, g_mime_header_list_get_count(list)) {
            guard let header = g_mime_header_list_get_header_at(list, i) else { continue }  // borrowed
            total += (g_mime_header_get_raw_name(header).map { strlen($0) } ?? 0)
                + (g_mime_header_get_raw_value(header).map { strlen($0) } ?? 0) + 1
        }
        return total
    }

    static func bytes(of string: UnsafePointer<CChar>) -> [UInt8] {
        UnsafeRawBufferPointer(start: string, count: strlen(string)).map { $0 }
    }

    static func parameter(_ contentType: UnsafeMutablePointer<GMimeContentType>?, _ name: String) -> String? {
        g_mime_content_type_get_parameter(contentType, name).map { String(cString: $0) }
    }

    /// A Content-ID or "start" value without its angle brackets.
    static func bareID(_ id: String) -> String {
        var s = Substring(id.trimmingWhitespace())
        if s.first == "<" { s.removeFirst() }
        if s.last == ">" { s.removeLast() }
        return String(s)
    }

    /// Mailboxes of an address list, groups flattened.
    static func addresses(_ list: UnsafeMutablePointer<InternetAddressList>?) -> [MessageAddress] {
        guard let list else { return [] }
        var out: [MessageAddress] = []
        for i in 0..<max(0, internet_address_list_length(list)) {
            guard let address = internet_address_list_get_address(list, i) else { continue }  // borrowed
            if spoolrun_internet_address_is_mailbox(address) != 0,
               let addr = internet_address_mailbox_get_addr(spoolrun_internet_address_as_mailbox(address)) {
                let name = internet_address_get_name(address).map { String(cString: $0) }
                out.append(MessageAddress(name: name?.isEmpty == false ? name : nil, address: String(cString: addr)))
            } else if spoolrun_internet_address_is_group(address) != 0 {
                out += addresses(internet_address_group_get_members(spoolrun_internet_address_as_group(address)))
            }
        }
        return out
    }
}

/// A text/plain or text/html part chosen as (part of) a body; decoded at the end, once.
struct BodyPart {
    let path: String
    let isHTML: Bool
    /// Content-Transfer-Encoding undone, charset not yet.
    let bytes: [UInt8]
    let charset: String?
    let isFlowed: Bool
    let delSp: Bool
}

/// What one subtree contributes. As in JMAP, a body part in a mixed context goes into both
/// lists; multipart/alternative picks one list from each of its alternatives.
struct Collected {
    var text: [BodyPart] = []
    var html: [BodyPart] = []
    var attachments: [Attachment] = []
    var embedded: [EmbeddedMessage] = []
    var problems: [String] = []
}

extension ParsedMessage {
    func noting(_ notes: [String], at pathPrefix: String) -> ParsedMessage {
        guard !notes.isEmpty else { return self }
        var copy = self
        copy.problems = notes.map { "\(MessageReader.label(pathPrefix)): \($0)" } + problems
        return copy
    }
}
