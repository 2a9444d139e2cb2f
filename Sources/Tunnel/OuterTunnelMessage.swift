// The outer tunnel message as the MTA delivered it: who sent it, to whom, and the S/MIME
// body. Parsed with GMime; the body is returned transfer-decoded (DER).
import Mail
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
        guard !bytes.isEmpty else { throw MIMEError("the file is empty") }
        let parsed = try GMimeReading.withMessage(bytes) { message -> OuterTunnelMessage in
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
            let media = GMimeReading.mediaType(ct)
            let smime = g_mime_content_type_get_parameter(ct, "smime-type").map { String(cString: $0).lowercased() }
            let body = spoolrun_gmime_is_part(part) != 0 ? GMimeReading.decodedContent(spoolrun_gmime_as_part(part)) : []
            return OuterTunnelMessage(from: from, to: to, mediaType: "\(media.type)/\(media.subtype)", smimeType: smime,
                                      body: body)
        }
        guard let parsed else { throw MIMEError("no RFC 5322 message could be parsed") }
        return parsed
    }

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
