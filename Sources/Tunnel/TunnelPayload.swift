// The signed content of a tunnel message (DESIGN §4): a multipart/mixed entity holding the
// envelope JSON and the original message.
import Mail
internal import CGMime

public struct TunnelPayload: Sendable {
    public static let envelopeMediaType = "application/vnd.spoolrun.envelope+json"

    /// The envelope part's decoded body (JSON text), if present.
    public let envelope: [UInt8]?
    /// The embedded original message (the message/rfc822 part), if present.
    public let original: [UInt8]?

    /// Builds the payload. Written by hand rather than through GMime on purpose: the
    /// original message must travel unchanged, and GMime would re-serialise it. Lines are
    /// CRLF so the entity is already canonical when it is signed.
    public static func build(envelopeJSON: [UInt8], original: [UInt8], boundary: String) throws -> [UInt8] {
        let delimiter = Array("--\(boundary)".utf8)
        for body in [envelopeJSON, original] where contains(body, delimiter) {
            throw MIMEError("the boundary occurs in the content")
        }
        var out: [UInt8] = []
        out.reserveCapacity(envelopeJSON.count + original.count + 256)
        func line(_ s: String) { out += Array(s.utf8) + [13, 10] }
        line("Content-Type: multipart/mixed; boundary=\"\(boundary)\"")
        line("")
        line("--\(boundary)")
        line("Content-Type: \(envelopeMediaType)")
        line("")
        out += envelopeJSON
        line("")
        line("--\(boundary)")
        line("Content-Type: message/rfc822")
        line("")
        out += original
        // This line break belongs to the closing delimiter (RFC 2046 §5.1.1), so the
        // original's own last line ending, if any, survives the round trip.
        line("")
        line("--\(boundary)--")
        return out
    }

    /// Reads a payload with GMime. Throws only when the entity is not a multipart at all.
    public static func parse(_ bytes: [UInt8]) throws -> TunnelPayload {
        let parsed = try GMimeReading.withPart(bytes) { entity -> TunnelPayload in
            guard spoolrun_gmime_is_multipart(entity) != 0 else {
                throw MIMEError("the signed content is not multipart/mixed")
            }
            let multipart = spoolrun_gmime_as_multipart(entity)
            // The original must come out byte for byte as the gateway put it in: take it
            // from the raw part, not from GMime's re-serialisation.
            let raw = g_mime_multipart_get_boundary(multipart).flatMap { try? MultipartBytes(bytes, boundary: String(cString: $0)) }
            var envelope: [UInt8]? = nil
            var original: [UInt8]? = nil
            for i in 0..<g_mime_multipart_get_count(multipart) {
                guard let part = g_mime_multipart_get_part(multipart, i) else { continue }  // borrowed
                let media = GMimeReading.mediaType(g_mime_object_get_content_type(part))
                let type = "\(media.type)/\(media.subtype)"
                if type == envelopeMediaType, envelope == nil, spoolrun_gmime_is_part(part) != 0 {
                    envelope = GMimeReading.decodedContent(spoolrun_gmime_as_part(part))
                } else if type == "message/rfc822", original == nil, spoolrun_gmime_is_message_part(part) != 0,
                          let message = g_mime_message_part_get_message(spoolrun_gmime_as_message_part(part)) {
                    if let raw, raw.parts.count == g_mime_multipart_get_count(multipart), isIdentityEncoded(part) {
                        original = Array(raw.body(of: Int(i)))
                    } else {
                        original = GMimeReading.serialized(spoolrun_gmime_message_as_object(message))
                    }
                }
            }
            return TunnelPayload(envelope: envelope, original: original)
        }
        guard let parsed else { throw MIMEError("the signed content is not a MIME entity") }
        return parsed
    }

    /// RFC 2046 §5.2.1: message/rfc822 is 7bit, 8bit or binary; anything else is decoded by GMime.
    private static func isIdentityEncoded(_ part: UnsafeMutablePointer<GMimeObject>) -> Bool {
        guard let cte = g_mime_object_get_header(part, "Content-Transfer-Encoding") else { return true }
        let value = String(cString: cte).trimmingWhitespace().lowercased()
        return value == "7bit" || value == "8bit" || value == "binary"
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}
