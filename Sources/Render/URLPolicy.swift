// Which URLs may stay in a sanitized body, and in what form. Only absolute URLs with a
// listed scheme survive: relative URLs (and bare fragments) would resolve against the portal
// itself, because the message frame has no base of its own, so they are removed too.

enum URLPolicy {
    static let linkSchemes: Set<String> = ["http", "https", "mailto"]

    /// `data:` images of these types only. No image/svg+xml: an SVG is a document that can
    /// carry script and links of its own.
    static let inlineImageTypes: Set<String> = ["image/png", "image/gif", "image/jpeg", "image/webp"]

    /// What an `<img src>` refers to.
    enum ImageSource: Equatable {
        /// An http or https image, as it would be written out.
        case remote(String)
        /// An inline part named by its Content-ID (RFC 2392).
        case contentID(String)
        /// A `data:` URL of an allowed raster type, as it would be written out.
        case inline(String)
        case rejected
    }

    /// The `href` of a kept link, as it is written out, or nil when the link must go.
    static func link(_ raw: String) -> String? {
        guard let url = NormalizedURL(raw), let scheme = url.scheme, linkSchemes.contains(scheme),
              url.hasUsableRest else { return nil }
        return url.text
    }

    static func imageSource(_ raw: String) -> ImageSource {
        guard let url = NormalizedURL(raw), let scheme = url.scheme, url.hasUsableRest else { return .rejected }
        switch scheme {
        case "http", "https":
            return .remote(url.text)
        case "cid":
            // RFC 2392 §2: the URL form is the Content-ID's addr-spec, %-encoded, without "<>".
            var id = percentDecoded(url.rest)
            if id.hasPrefix("<") && id.hasSuffix(">") && id.count >= 2 { id = String(id.dropFirst().dropLast()) }
            return id.isEmpty ? .rejected : .contentID(id)
        case "data":
            // RFC 2397: data:[<mediatype>][;base64],<data>; the type ends at ";" or ",".
            let rest = url.rest.unicodeScalars
            guard rest.contains(",") else { return .rejected }
            let type = String(String.UnicodeScalarView(rest.prefix { $0 != ";" && $0 != "," })).lowercased()
            return inlineImageTypes.contains(type) ? .inline(url.text) : .rejected
        default:
            return .rejected
        }
    }

    private static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.popFirst() {
            if byte == UInt8(ascii: "%"), input.count >= 2,
               let high = hexValue(input[input.startIndex]), let low = hexValue(input[input.startIndex + 1]) {
                bytes.append(high << 4 | low)
                input = input.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// A URL attribute's value as a browser will read it, and its scheme.
struct NormalizedURL {
    /// What is written out: the value as the WHATWG URL parser sees it (C0 controls and
    /// spaces trimmed at both ends, tabs and newlines removed anywhere), with any control or
    /// space left inside percent-encoded, so the written URL holds no byte <= 0x20.
    let text: String
    /// The lowercased scheme, or nil for a relative URL.
    let scheme: String?

    /// nil when the scheme reads differently once every character <= 0x20 is removed: that
    /// is how `java&#x09;script:` or ` javascript:` hide from a prefix check
    /// (C-INTEROP-NOTES: the parsed value really is "java\tscript:").
    init?(_ raw: String) {
        var scalars = Array(raw.unicodeScalars)[...]
        while let first = scalars.first, first.value <= 0x20 { scalars.removeFirst() }
        while let last = scalars.last, last.value <= 0x20 { scalars.removeLast() }
        var text = ""
        for scalar in scalars {
            switch scalar.value {
            case 0x09, 0x0A, 0x0D:
                continue
            case 0...0x20, 0x7F:
                text += "%" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 2)
            default:
                text.unicodeScalars.append(scalar)
            }
        }
        let stripped = String(String.UnicodeScalarView(raw.unicodeScalars.filter { $0.value > 0x20 }))
        let scheme = Self.scheme(of: text)
        guard scheme == Self.scheme(of: stripped) else { return nil }
        self.text = text
        self.scheme = scheme
    }

    /// What follows "scheme:", counted in scalars (a combining mark after the colon would
    /// join it into one Character).
    var rest: String {
        guard let scheme else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.dropFirst(scheme.unicodeScalars.count + 1)))
    }

    /// http and https need "//host" (a special-scheme URL without it, such as "https:x",
    /// would resolve against the portal); other schemes need something after the colon.
    var hasUsableRest: Bool {
        switch scheme {
        case "http", "https":
            let rest = Array(self.rest.unicodeScalars)
            guard rest.count > 2, rest[0] == "/", rest[1] == "/" else { return false }
            return rest[2] != "/" && rest[2] != "\\"
        default:
            return !rest.isEmpty
        }
    }

    /// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), ended by ":".
    static func scheme(of text: String) -> String? {
        var name = ""
        for scalar in text.unicodeScalars {
            if scalar == ":" { return name.isEmpty ? nil : name.lowercased() }
            let isAlpha = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z")
            let isOther = (scalar >= "0" && scalar <= "9") || scalar == "+" || scalar == "-" || scalar == "."
            guard isAlpha || (!name.isEmpty && isOther) else { return nil }
            name.unicodeScalars.append(scalar)
        }
        return nil
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
