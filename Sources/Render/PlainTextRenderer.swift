// A text/plain body shown as HTML: escaped, line breaks and spacing kept, and http, https
// and mailto URLs made into links with the same attributes as sanitized links.

public enum PlainTextRenderer {
    /// The wrapper keeps every space and line break (pre-wrap) yet wraps long lines on a phone.
    static let openTag = "<pre style=\"white-space: pre-wrap; overflow-wrap: break-word;\">"

    public static func html(_ text: String) -> String {
        let scalars = normalized(text)
        var body: [UInt8] = []
        // Text between links is escaped a run at a time, not a character at a time.
        var plainStart = 0
        var index = 0
        func flushPlain(upTo end: Int) {
            if end > plainStart { HTMLEscape.text(String(String.UnicodeScalarView(scalars[plainStart..<end])), into: &body) }
        }
        while index < scalars.count {
            if let end = urlEnd(in: scalars, at: index) {
                let candidate = String(String.UnicodeScalarView(scalars[index..<end]))
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
        flushPlain(upTo: scalars.count)
        // An HTML parser drops one newline right after <pre> (WHATWG HTML §13.2.6.4.7).
        let lead = scalars.first == "\n" ? "\n" : ""
        return openTag + lead + String(decoding: body, as: UTF8.self) + "</pre>"
    }

    /// CRLF and lone CR become LF; other C0 controls except tab, and DEL, are dropped (a NUL
    /// would show as U+FFFD, the rest show nothing useful).
    private static func normalized(_ text: String) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.unicodeScalars.count)
        var previousCR = false
        for scalar in text.unicodeScalars {
            defer { previousCR = scalar == "\r" }
            switch scalar.value {
            case 0x0D: result.append("\n")
            case 0x0A: if !previousCR { result.append("\n") }
            case 0x09: result.append(scalar)
            case 0...0x1F, 0x7F: continue
            default: result.append(scalar)
            }
        }
        return result
    }

    private static let schemes: [[Unicode.Scalar]] = ["https://", "http://", "mailto:"].map { Array($0.unicodeScalars) }
    /// The schemes' first letters, lower case (ASCII `| 0x20`).
    private static let schemeInitials: Set<UInt32> = Set(schemes.map { $0[0].value | 0x20 })

    /// Where a URL that starts at `start` ends, or nil if none starts there. A URL starts at
    /// a word boundary with one of the schemes and runs to white space or one of `<>"`;
    /// punctuation at its end belongs to the sentence, and a closing bracket belongs to the
    /// URL only if the URL opened one ("(see https://en.wikipedia.org/wiki/A_(B))").
    private static func urlEnd(in scalars: [Unicode.Scalar], at start: Int) -> Int? {
        // Cheap test first: every scheme starts with h or m (any case).
        guard schemeInitials.contains(scalars[start].value | 0x20),
              let scheme = schemes.first(where: { hasPrefix($0, in: scalars, at: start) }) else { return nil }
        if start > 0 {
            let previous = scalars[start - 1]
            if previous.properties.isAlphabetic || ("0"..."9").contains(previous) { return nil }
        }
        var end = start + scheme.count
        while end < scalars.count {
            let s = scalars[end]
            if s.value <= 0x20 || s == "<" || s == ">" || s == "\"" || s.properties.isWhitespace { break }
            end += 1
        }
        while end > start + scheme.count {
            let last = scalars[end - 1]
            let slice = scalars[start..<end]
            let unbalanced: (Unicode.Scalar, Unicode.Scalar) -> Bool = { open, close in
                last == close && slice.filter { $0 == open }.count < slice.filter { $0 == close }.count
            }
            if ".,;:!?'*".unicodeScalars.contains(last)
                || unbalanced("(", ")") || unbalanced("[", "]") || unbalanced("{", "}") {
                end -= 1
            } else {
                break
            }
        }
        return end > start + scheme.count ? end : nil
    }

    private static func hasPrefix(_ prefix: [Unicode.Scalar], in scalars: [Unicode.Scalar], at start: Int) -> Bool {
        guard start + prefix.count <= scalars.count else { return false }
        for (offset, p) in prefix.enumerated() {
            let s = scalars[start + offset]
            let lowered = ("A"..."Z").contains(s) ? Unicode.Scalar(s.value + 0x20)! : s
            if lowered != p { return false }
        }
        return true
    }
}
