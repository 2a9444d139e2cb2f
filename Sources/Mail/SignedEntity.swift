// The decrypted inner layer of a tunnel message: an S/MIME signed entity, either
// multipart/signed (RFC 1847, RFC 8551 §3.5.3) or opaque application/pkcs7-mime
// signed-data (RFC 8551 §3.5.2). This splits it into the exact signed bytes and the DER
// signature, so that the crypto layer sees no MIME. GMime reads the structure and decodes
// the signature part; the signed content is cut from the original bytes, because it must
// be hashed exactly as it was sent.
internal import CGMime

public struct SignedEntity: Sendable {
    /// The DER CMS SignedData.
    public let signature: [UInt8]
    /// For multipart/signed: the first body part exactly as sent (headers and body),
    /// without the line break that belongs to the following delimiter (RFC 2046 §5.1.1).
    /// Nil for opaque signed-data, whose content is inside `signature`.
    public let detachedContent: [UInt8]?

    public static func parse(_ bytes: [UInt8]) throws -> SignedEntity {
        let parsed = try GMimeReading.withPart(bytes) { entity -> SignedEntity in
            let ct = g_mime_object_get_content_type(entity)
            let media = GMimeReading.mediaType(ct)
            if media == ("multipart", "signed"), spoolrun_gmime_is_multipart(entity) != 0 {
                let multipart = spoolrun_gmime_as_multipart(entity)
                guard g_mime_multipart_get_count(multipart) == 2,
                      let boundary = g_mime_multipart_get_boundary(multipart),
                      let signaturePart = g_mime_multipart_get_part(multipart, 1),  // borrowed
                      spoolrun_gmime_is_part(signaturePart) != 0 else {
                    throw MIMEError("multipart/signed needs exactly two parts")
                }
                let sig = GMimeReading.mediaType(g_mime_object_get_content_type(signaturePart))
                guard sig == ("application", "pkcs7-signature") || sig == ("application", "x-pkcs7-signature") else {
                    throw MIMEError("the second part of multipart/signed is not application/pkcs7-signature")
                }
                let content = try firstPartBytes(bytes, boundary: String(cString: boundary))
                return SignedEntity(signature: GMimeReading.decodedContent(spoolrun_gmime_as_part(signaturePart)),
                                    detachedContent: content)
            }
            if media == ("application", "pkcs7-mime") || media == ("application", "x-pkcs7-mime"),
               spoolrun_gmime_is_part(entity) != 0 {
                let smime = g_mime_content_type_get_parameter(ct, "smime-type").map { String(cString: $0).lowercased() }
                guard smime == nil || smime == "signed-data" else {
                    throw MIMEError("the decrypted content is application/pkcs7-mime; smime-type=\(smime!), not signed-data")
                }
                return SignedEntity(signature: GMimeReading.decodedContent(spoolrun_gmime_as_part(entity)), detachedContent: nil)
            }
            throw MIMEError("the decrypted content is \(media.type)/\(media.subtype), not an S/MIME signed entity")
        }
        guard let parsed else { throw MIMEError("the decrypted content is not a MIME entity") }
        return parsed
    }

    /// The bytes between the first delimiter line and the line break before the second.
    static func firstPartBytes(_ bytes: [UInt8], boundary: String) throws -> [UInt8] {
        let delimiter = Array("--\(boundary)".utf8)
        guard let first = delimiterLine(in: bytes, delimiter: delimiter, from: headerEnd(bytes)) else {
            throw MIMEError("multipart/signed has no opening boundary")
        }
        // The part starts after the line break that ends the delimiter line (transport
        // padding, RFC 2046 §5.1.1, may come before it).
        var start = first + delimiter.count
        while start < bytes.count, bytes[start] != 10 { start += 1 }
        start += 1
        guard start <= bytes.count,
              let next = delimiterLine(in: bytes, delimiter: delimiter, from: start) else {
            throw MIMEError("multipart/signed has no second boundary")
        }
        // The CRLF (or bare LF) before a delimiter is part of the delimiter.
        var end = next
        if end > start, bytes[end - 1] == 10 { end -= 1 }
        if end > start, bytes[end - 1] == 13 { end -= 1 }
        return Array(bytes[start..<end])
    }

    /// Where the entity's header block ends (after its blank line), so a boundary that
    /// appears inside a header is never taken for a delimiter.
    private static func headerEnd(_ bytes: [UInt8]) -> Int {
        var i = 0
        while i < bytes.count {
            if bytes[i] == 10 {
                if i + 1 < bytes.count, bytes[i + 1] == 10 { return i + 2 }
                if i + 2 < bytes.count, bytes[i + 1] == 13, bytes[i + 2] == 10 { return i + 3 }
            }
            i += 1
        }
        return bytes.count
    }

    /// Offset of the next `delimiter` that starts a line, at or after `from`.
    private static func delimiterLine(in bytes: [UInt8], delimiter: [UInt8], from: Int) -> Int? {
        var i = from
        let last = bytes.count - delimiter.count
        while i <= last {
            if bytes[i] == delimiter[0], i == 0 || bytes[i - 1] == 10,
               bytes[i..<(i + delimiter.count)].elementsEqual(delimiter) {
                return i
            }
            i += 1
        }
        return nil
    }
}
