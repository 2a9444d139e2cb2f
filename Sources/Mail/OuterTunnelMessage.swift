// The outer tunnel message as the MTA delivered it: who sent it, to whom, and the S/MIME
// body. Parsed with GMime; the body is returned transfer-decoded (DER).
internal import CGMime

public struct OuterTunnelMessage: Sendable {
    /// Addresses from `From:` and `To:`, trimmed and lower-cased.
    public let from: [String]
    public let to: [String]
    /// "type/subtype", lower-cased, e.g. "application/pkcs7-mime".
    public let mediaType: String
    /// The `smime-type` parameter, lower-cased, if any.
    public let smimeType: String?
    /// The decoded body of a single-part message; empty for multiparts.
    public let body: [UInt8]

    public var isEnvelopedSMIME: Bool {
        (mediaType == "application/pkcs7-mime" || mediaType == "application/x-pkcs7-mime")
            && (smimeType == nil || smimeType == "enveloped-data" || smimeType == "authenveloped-data")
    }

    public static func parse(_ bytes: [UInt8]) throws -> OuterTunnelMessage {
        GMimeRuntime.ensure()
        guard !bytes.isEmpty else { throw MIMEError("the file is empty") }
        let stream = GMimeStreamAccess.stream(copying: bytes)
        defer { unref(stream) }
        let parser = g_mime_parser_new_with_stream(stream)
        defer { unref(parser) }
        guard let message = g_mime_parser_construct_message(parser, nil) else {
            throw MIMEError("no RFC 5322 message could be parsed")
        }
        defer { unref(message) }
        let object = spoolrun_gmime_message_as_object(message)
        guard let headers = g_mime_object_get_header_list(object), g_mime_header_list_get_count(headers) > 0 else {
            throw MIMEError("the message has no header fields")
        }
        let from = addresses(g_mime_message_get_from(message))
        let to = addresses(g_mime_message_get_to(message))

        guard let part = g_mime_message_get_mime_part(message) else {
            return OuterTunnelMessage(from: from, to: to, mediaType: "text/plain", smimeType: nil, body: [])
        }
        let ct = g_mime_object_get_content_type(part)
        let type = string(g_mime_content_type_get_media_type(ct)).lowercased()
        let subtype = string(g_mime_content_type_get_media_subtype(ct)).lowercased()
        let smime = g_mime_content_type_get_parameter(ct, "smime-type").map { String(cString: $0).lowercased() }
        var body: [UInt8] = []
        if spoolrun_gmime_is_part(part) != 0, let content = g_mime_part_get_content(spoolrun_gmime_as_part(part)) {
            let out = g_mime_stream_mem_new()!
            defer { unref(out) }
            g_mime_data_wrapper_write_to_stream(content, out)
            body = GMimeStreamAccess.bytes(of: out)
        }
        return OuterTunnelMessage(from: from, to: to, mediaType: "\(type)/\(subtype)", smimeType: smime, body: body)
    }

    private static func string(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

    /// Mailbox addresses of a list, groups flattened.
    static func addresses(_ list: UnsafeMutablePointer<InternetAddressList>?) -> [String] {
        guard let list else { return [] }
        var out: [String] = []
        for i in 0..<internet_address_list_length(list) {
            guard let address = internet_address_list_get_address(list, i) else { continue }
            if spoolrun_internet_address_is_mailbox(address) != 0,
               let addr = internet_address_mailbox_get_addr(spoolrun_internet_address_as_mailbox(address)) {
                out.append(String(cString: addr).trimmingWhitespace().lowercased())
            } else if spoolrun_internet_address_is_group(address) != 0 {
                out += addresses(internet_address_group_get_members(spoolrun_internet_address_as_group(address)))
            }
        }
        return out
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
