// A text/plain body shown as HTML: escaped, line breaks and spacing kept, and http, https
// and mailto URLs made into links with the same attributes as sanitized links.
import Mail

public enum PlainTextRenderer {
    /// The wrapper keeps every space and line break (pre-wrap) yet wraps long lines on a phone.
    static let openTag = "<pre style=\"white-space: pre-wrap; overflow-wrap: break-word;\">"

    public static func html(_ text: String) -> String {
        // Worked on as UTF-8 bytes: everything the renderer looks for (line ends, controls,
        // schemes, brackets, what must be escaped) is ASCII, and a byte below 0x80 is never
        // part of a longer sequence. Scalars are decoded only around a possible link.
        let bytes = normalized(text)
        var body: [UInt8] = []
        body.reserveCapacity(bytes.count + bytes.count / 8 + 64)
        // Text between links is escaped a run at a time.
        var plainStart = 0
        var index = 0
        bytes.withUnsafeBufferPointer { b in
            func flushPlain(upTo end: Int) {
                if end > plainStart { HTMLEscape.text(UnsafeBufferPointer(rebasing: b[plainStart..<end]), into: &body) }
            }
            while index < b.count {
                if let end = urlEnd(in: b, at: index) {
                    let candidate = String(decoding: UnsafeBufferPointer(rebasing: b[index..<end]), as: UTF8.self)
                    if let href = URLPolicy.link(candidate) {
                        flushPlain(upTo: index)
                        let tag = "<a href=\"\(HTMLEscape.attribute(href))\" target=\"\(HTMLPolicy.linkTarget)\""
                            + " rel=\"\(HTMLPolicy.linkRel)\">"
                        body.append(contentsOf: tag.utf8)
                        HTMLEscape.text(candidate, into: &body)
                        body.append(contentsOf: "</a>".utf8)
                        index = end
                        plainStart = end
                        continue
                    }
                }
                index += 1
            }
            flushPlain(upTo: b.count)
        }
        // An HTML parser drops one newline right after <pre> (WHATWG HTML §13.2.6.4.7).
        let lead = bytes.first == 0x0A ? "\n" : ""
        return openTag + lead + String(decoding: body, as: UTF8.self) + "</pre>"
    }

    /// CRLF and lone CR become LF; other C0 controls except tab, and DEL, are dropped (a NUL
    /// would show as U+FFFD, the rest show nothing useful). As UTF-8.
    private static func normalized(_ text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { input in
            var result: [UInt8] = []
            result.reserveCapacity(input.count)
            var previousCR = false
            for byte in input {
                defer { previousCR = byte == 0x0D }
                switch byte {
                case 0x0D: result.append(0x0A)
                case 0x0A: if !previousCR { result.append(0x0A) }
                case 0x09: result.append(byte)
                case 0...0x1F, 0x7F: continue
                default: result.append(byte)
                }
            }
            return result
        }
    }

    private static let schemes: [[UInt8]] = ["https://", "http://", "mailto:"].map { Array($0.utf8) }

    /// The scalar that ends just before `end` (UTF-8 from a valid String).
    private static func scalar(endingAt end: Int, in b: UnsafeBufferPointer<UInt8>) -> Unicode.Scalar {
        var start = end - 1
        while start > 0 && b[start] & 0xC0 == 0x80 { start -= 1 }
        return scalar(at: start, in: b).scalar
    }

    /// The scalar that starts at `start`, and its length in bytes.
    private static func scalar(at start: Int, in b: UnsafeBufferPointer<UInt8>) -> (scalar: Unicode.Scalar, length: Int) {
        let lead = b[start]
        let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        var value = length == 1 ? UInt32(lead) : UInt32(lead) & (0xFF >> (length + 1))
        for k in 1..<max(1, length) where start + k < b.count { value = value << 6 | UInt32(b[start + k] & 0x3F) }
        return (Unicode.Scalar(value) ?? "\u{FFFD}", length)
    }

    /// Where a URL that starts at `start` ends, or nil if none starts there. A URL starts at
    /// a word boundary with one of the schemes and runs to white space or one of `<>"`;
    /// punctuation at its end belongs to the sentence, and a closing bracket belongs to the
    /// URL only if the URL opened one ("(see https://en.wikipedia.org/wiki/A_(B))").
    private static func urlEnd(in b: UnsafeBufferPointer<UInt8>, at start: Int) -> Int? {
        // Cheap test first: every scheme starts with h or m (any case).
        let initial = b[start] | 0x20
        guard initial == UInt8(ascii: "h") || initial == UInt8(ascii: "m"),
              let scheme = schemes.first(where: { hasPrefix($0, in: b, at: start) }) else { return nil }
        if start > 0 {
            let previous = scalar(endingAt: start, in: b)
            if previous.properties.isAlphabetic || ("0"..."9").contains(previous) { return nil }
        }
        var end = start + scheme.count
        while end < b.count {
            let byte = b[end]
            if byte < 0x80 {
                if byte <= 0x20 || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "\"") { break }
                end += 1
            } else {
                let (s, length) = scalar(at: end, in: b)
                if s.properties.isWhitespace { break }
                end += length
            }
        }
        while end > start + scheme.count {
            let last = b[end - 1]
            func unbalanced(_ open: UInt8, _ close: UInt8) -> Bool {
                guard last == close else { return false }
                var opens = 0, closes = 0
                for byte in b[start..<end] { if byte == open { opens += 1 } else if byte == close { closes += 1 } }
                return opens < closes
            }
            if ".,;:!?'*".utf8.contains(last) || unbalanced(0x28, 0x29) || unbalanced(0x5B, 0x5D) || unbalanced(0x7B, 0x7D) {
                end -= 1
            } else {
                break
            }
        }
        return end > start + scheme.count ? end : nil
    }

    private static func hasPrefix(_ prefix: [UInt8], in b: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        guard start + prefix.count <= b.count else { return false }
        for (offset, p) in prefix.enumerated() {
            let byte = b[start + offset]
            let lowered = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if lowered != p { return false }
        }
        return true
    }
}
