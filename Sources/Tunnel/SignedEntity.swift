// The decrypted inner layer of a tunnel message: an S/MIME signed entity, either
// multipart/signed (RFC 1847, RFC 8551 §3.5.3) or opaque application/pkcs7-mime
// signed-data (RFC 8551 §3.5.2). This splits it into the exact signed bytes and the DER
// signature, so that the crypto layer sees no MIME. GMime reads the structure and decodes
// the signature part; the signed content is cut from the original bytes, because it must
// be hashed exactly as it was sent.
import Mail
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

    /// The first body part exactly as sent (see MultipartBytes).
    static func firstPartBytes(_ bytes: [UInt8], boundary: String) throws -> [UInt8] {
        let split = try MultipartBytes(bytes, boundary: boundary)
        guard split.parts.count == 2 else { throw MIMEError("multipart/signed needs exactly two parts") }
        return Array(bytes[split.parts[0]])
    }
}
