// The body parts of a multipart entity as raw byte ranges of the original, cut exactly as
// RFC 2046 §5.1.1 draws the lines: a part starts after the line break that ends its
// delimiter line, and the line break before the next delimiter belongs to that delimiter.
// GMime reads the structure; these ranges are for the places where the exact bytes
// matter: signed content (it is hashed as sent) and the embedded original (it is offered
// for download unchanged).
import Glibc

package struct MultipartBytes {
    let bytes: [UInt8]
    /// Each body part (its headers and body), in order.
    package let parts: [Range<Int>]

    package init(_ bytes: [UInt8], boundary: String) throws {
        self.bytes = bytes
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Range<Int>] = []
        guard var at = Self.delimiterLine(in: bytes, delimiter: delimiter, from: Self.headerEnd(bytes, from: 0)) else {
            throw MIMEError("the multipart has no opening boundary")
        }
        while true {
            let afterDelimiter = at + delimiter.count
            // "--boundary--" closes the multipart.
            if afterDelimiter + 1 < bytes.count, bytes[afterDelimiter] == 45, bytes[afterDelimiter + 1] == 45 { break }
            var start = afterDelimiter
            while start < bytes.count, bytes[start] != 10 { start += 1 }  // transport padding
            start += 1
            guard start <= bytes.count, let next = Self.delimiterLine(in: bytes, delimiter: delimiter, from: start) else {
                throw MIMEError("a body part of the multipart is not closed by a boundary")
            }
            var end = next
            if end > start, bytes[end - 1] == 10 { end -= 1 }
            if end > start, bytes[end - 1] == 13 { end -= 1 }
            parts.append(start..<end)
            at = next
        }
        self.parts = parts
    }

    /// A part's body: what follows its header block.
    package func body(of part: Int) -> ArraySlice<UInt8> {
        let range = parts[part]
        let start = Self.headerEnd(bytes, from: range.lowerBound, limit: range.upperBound)
        return bytes[min(start, range.upperBound)..<range.upperBound]
    }

    /// Where a header block that starts at `from` ends (after its blank line). A part with
    /// no header fields starts with the blank line itself.
    static func headerEnd(_ bytes: [UInt8], from: Int, limit: Int? = nil) -> Int {
        let limit = limit ?? bytes.count
        if from < limit, bytes[from] == 10 { return from + 1 }
        if from + 1 < limit, bytes[from] == 13, bytes[from + 1] == 10 { return from + 2 }
        var i = from
        while i < limit {
            if bytes[i] == 10 {
                if i + 1 < limit, bytes[i + 1] == 10 { return i + 2 }
                if i + 2 < limit, bytes[i + 1] == 13, bytes[i + 2] == 10 { return i + 3 }
            }
            i += 1
        }
        return limit
    }

    /// Offset of the next `delimiter` that starts a line, at or after `from`. memchr finds
    /// the candidates (a delimiter starts with "-", which base64 never contains): the parts
    /// can be tens of MB, far too many bytes to look at one by one in Swift.
    static func delimiterLine(in bytes: [UInt8], delimiter: [UInt8], from: Int) -> Int? {
        guard !delimiter.isEmpty, from >= 0, from <= bytes.count - delimiter.count else { return nil }
        return bytes.withUnsafeBytes { buf in
            delimiter.withUnsafeBytes { needle in
                let base = buf.baseAddress!
                let last = buf.count - needle.count
                var i = from
                while i <= last {
                    guard let hit = memchr(base + i, Int32(needle[0]), last + 1 - i) else { return nil }
                    let at = base.distance(to: UnsafeRawPointer(hit))
                    if at == 0 || buf[at - 1] == 10, memcmp(base + at, needle.baseAddress!, needle.count) == 0 { return at }
                    i = at + 1
                }
                return nil
            }
        }
    }
}
