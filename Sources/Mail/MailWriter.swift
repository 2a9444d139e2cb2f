// Writes an OutgoingMail with GMime: headers through GMime's own setters (which fold and
// RFC 2047-encode), parts with the best transfer encoding for their content.
import Foundation
internal import CGMime

enum MailWriter {
    static func write(_ mail: OutgoingMail) -> [UInt8] {
        GMimeRuntime.ensure()
        // An attachment's bytes are lent to GMime, not copied: an OTP PDF may be tens of MB.
        if case .withAttachment(_, _, let attachment) = mail.body, !attachment.data.isEmpty {
            return GMimeStreamAccess.withStream(over: attachment.data) { compose(mail, attachment: $0) }
        }
        return compose(mail, attachment: nil)
    }

    /// Everything GMime makes refers to `attachment` (when given) and is released here.
    private static func compose(_ mail: OutgoingMail, attachment: UnsafeMutablePointer<GMimeStream>?) -> [UInt8] {
        let message = g_mime_message_new(1)!
        defer { unref(message) }
        let object = spoolrun_gmime_message_as_object(message)
        add(mail.from, to: message, as: GMIME_ADDRESS_TYPE_FROM)
        for r in mail.to { add(r, to: message, as: GMIME_ADDRESS_TYPE_TO) }
        g_mime_message_set_subject(message, headerText(mail.subject), "utf-8")
        let date = g_date_time_new_from_unix_utc(Int(mail.date.timeIntervalSince1970.rounded(.down)))
        g_mime_message_set_date(message, date)
        g_date_time_unref(date)
        let id = mail.messageID ?? randomMessageID(domain: domain(of: mail.from.address))
        g_mime_message_set_message_id(message, id)
        if let reply = mail.inReplyTo, HeaderText.isSafeMessageID(reply) {
            g_mime_object_set_header(object, "In-Reply-To", "<\(reply)>", nil)
            g_mime_object_set_header(object, "References", "<\(reply)>", nil)
        }
        g_mime_object_set_header(object, "Auto-Submitted", "auto-generated", nil)

        let body = bodyObject(mail.body, attachment: attachment)
        defer { unref(body) }
        g_mime_message_set_mime_part(message, body)
        return serialized(object)
    }

    /// The message's bytes in one array of exactly their size: GMime writes twice, first to
    /// count, then into the array itself (a growing memory stream would double its buffer
    /// and then be copied out: three times a large message at the peak). The second write is
    /// bounded to the counted size; should it differ, GMime's own memory stream is used.
    private static func serialized(_ object: UnsafeMutablePointer<GMimeObject>?) -> [UInt8] {
        let counter = g_mime_stream_null_new()!
        let size = g_mime_object_write_to_stream(object, nil, counter)
        unref(counter)
        guard size > 0, size <= Int(UInt32.max) else { return GMimeReading.serialized(object) }
        var complete = false
        let out = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            // The stream writes into the array's own storage: a borrowed GByteArray of exactly
            // `size` bytes (owner FALSE; g_byte_array_free(_, FALSE) returns the storage
            // rather than freeing it), bounded so that GLib never reallocates it.
            let array = g_byte_array_new_take(buffer.baseAddress!, gsize(size))!
            defer { _ = g_byte_array_free(array, 0) }
            let stream = g_mime_stream_mem_new_with_byte_array(array)!
            defer { unref(stream) }
            g_mime_stream_mem_set_owner(spoolrun_gmime_stream_as_mem(stream), 0)
            g_mime_stream_set_bounds(stream, 0, gint64(size))
            complete = g_mime_object_write_to_stream(object, nil, stream) == size
            count = complete ? size : 0
        }
        return complete ? out : GMimeReading.serialized(object)
    }

    private static func add(_ a: MailAddress, to message: UnsafeMutablePointer<GMimeMessage>, as type: GMimeAddressType) {
        let name = a.name.map(headerText).flatMap { $0.isEmpty ? nil : $0 }
        g_mime_message_add_mailbox(message, type, name, a.address)
    }

    /// Text for a header: any RFC 2047 encoded-words in it are decoded first (text that came
    /// from outside may hold a literal "=?utf-8?q?=0D=0A...?=", which a reader would turn into
    /// CR LF), then every control character goes. GMime encodes the result afresh.
    static func headerText(_ s: String) -> String {
        var text = s
        for _ in 0..<3 where text.contains("=?") {
            let next = EncodedWords.decode(text)
            if next == text { break }
            text = next
        }
        return HeaderText.clean(text)
    }

    private static func domain(of address: String) -> String {
        address.split(separator: "@").last.map(String.init) ?? "localhost"
    }

    static func randomMessageID(domain: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return "spoolrun." + bytes.map { String(format: "%02x", $0) }.joined() + "@" + domain
    }

    /// An owned reference to the message's top MIME object.
    private static func bodyObject(_ body: OutgoingMail.Body, attachment stream: UnsafeMutablePointer<GMimeStream>?)
        -> UnsafeMutablePointer<GMimeObject> {
        switch body {
        case .text(let text):
            return textPart(text, subtype: "plain")
        case .alternative(let text, let html):
            return multipart("alternative", [textPart(text, subtype: "plain"), textPart(html, subtype: "html")])
        case .withAttachment(let text, let html, let attachment):
            let first = html.map { multipart("alternative", [textPart(text, subtype: "plain"), textPart($0, subtype: "html")]) }
                ?? textPart(text, subtype: "plain")
            return multipart("mixed", [first, attachmentPart(attachment, stream: stream)])
        case .dispositionNotification(let text, let report):
            let mp = multipart("report", [textPart(text, subtype: "plain"), dispositionPart(report)])
            g_mime_object_set_content_type_parameter(mp, "report-type", "disposition-notification")
            return mp
        }
    }

    /// Takes ownership of `parts`.
    private static func multipart(_ subtype: String, _ parts: [UnsafeMutablePointer<GMimeObject>]) -> UnsafeMutablePointer<GMimeObject> {
        let mp = g_mime_multipart_new_with_subtype(subtype)!
        for p in parts {
            g_mime_multipart_add(mp, p)
            unref(p)
        }
        return UnsafeMutableRawPointer(mp).assumingMemoryBound(to: GMimeObject.self)
    }

    private static func textPart(_ text: String, subtype: String) -> UnsafeMutablePointer<GMimeObject> {
        // Line ends as LF; a lone CR would otherwise survive into the body.
        var lines: [UInt8] = []
        lines.reserveCapacity(text.utf8.count)
        var previousCR = false
        for byte in text.utf8 {
            defer { previousCR = byte == 0x0D }
            if byte == 0x0D { lines.append(0x0A) } else if !(byte == 0x0A && previousCR) { lines.append(byte) }
        }
        let normalized = String(decoding: lines, as: UTF8.self)
        let part = g_mime_text_part_new_with_subtype(subtype)!
        g_mime_text_part_set_text(part, normalized)  // sets charset us-ascii or utf-8
        let asPart = UnsafeMutableRawPointer(part).assumingMemoryBound(to: GMimePart.self)
        g_mime_part_set_content_encoding(asPart, g_mime_part_get_best_content_encoding(asPart, GMIME_ENCODING_CONSTRAINT_7BIT))
        return UnsafeMutableRawPointer(part).assumingMemoryBound(to: GMimeObject.self)
    }

    /// `stream`, when given, holds `content` already (borrowed, see `write`).
    private static func leafPart(type: String, subtype: String, content: [UInt8], stream borrowed: UnsafeMutablePointer<GMimeStream>? = nil,
                                 encoding: GMimeContentEncoding?) -> UnsafeMutablePointer<GMimePart> {
        let part = g_mime_part_new_with_type(type, subtype)!
        let stream = borrowed ?? GMimeStreamAccess.stream(copying: content)
        defer { if borrowed == nil { unref(stream) } }
        let wrapper = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT)
        defer { unref(wrapper) }
        g_mime_part_set_content(part, wrapper)
        g_mime_part_set_content_encoding(part, encoding ?? g_mime_part_get_best_content_encoding(part, GMIME_ENCODING_CONSTRAINT_7BIT))
        return part
    }

    private static func attachmentPart(_ a: OutgoingAttachment, stream: UnsafeMutablePointer<GMimeStream>?) -> UnsafeMutablePointer<GMimeObject> {
        let pieces = a.mediaType.lowercased().split(separator: "/", maxSplits: 1).map(String.init)
        let valid = pieces.count == 2 && pieces.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || "+-.".utf8.contains(c) } }
        let (type, subtype) = valid ? (pieces[0], pieces[1]) : ("application", "octet-stream")
        let part = leafPart(type: type, subtype: subtype, content: a.data, stream: stream, encoding: GMIME_CONTENT_ENCODING_BASE64)
        let name = headerText(a.filename).replacingOccurrences(of: "/", with: "_")
        g_mime_part_set_filename(part, name.isEmpty ? "attachment" : name)  // RFC 2231 when not ASCII
        return UnsafeMutableRawPointer(part).assumingMemoryBound(to: GMimeObject.self)
    }

    /// message/disposition-notification (RFC 3798 §3.1): header-like fields, 7bit.
    private static func dispositionPart(_ r: DispositionReport) -> UnsafeMutablePointer<GMimeObject> {
        var fields = "Reporting-UA: \(HeaderText.clean(r.reportingUA))\n"
        if let original = r.originalRecipient, HeaderText.isSafeAddress(original) {
            fields += "Original-Recipient: rfc822;\(original)\n"
        }
        fields += "Final-Recipient: rfc822;\(HeaderText.isSafeAddress(r.finalRecipient) ? r.finalRecipient : "invalid@invalid")\n"
        if let id = r.originalMessageID, HeaderText.isSafeMessageID(id) { fields += "Original-Message-ID: <\(id)>\n" }
        fields += "Disposition: \(HeaderText.clean(r.disposition))\n"
        let part = leafPart(type: "message", subtype: "disposition-notification", content: Array(fields.utf8),
                            encoding: GMIME_CONTENT_ENCODING_7BIT)
        return UnsafeMutableRawPointer(part).assumingMemoryBound(to: GMimeObject.self)
    }
}
