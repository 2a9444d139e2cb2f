// A `style` attribute reduced to declarations that only change how text and boxes look:
// colours, fonts, alignment, decoration, spacing, borders, sizes and a few display values.
// Nothing that loads (url(), @import), runs (expression(), behavior, -moz-binding) or
// escapes the message's box (position, z-index) gets through.
//
// It works on UTF-8 bytes: every character that means something in CSS is ASCII, and every
// byte of a non-ASCII character is >= 0x80, which CSS treats as part of a name (CSS Syntax 3
// §4.2, "ident code point").

enum CSSFilter {
    static let allowedProperties: Set<String> = [
        "color", "background-color", "background",
        "font", "font-family", "font-size", "font-style", "font-weight", "font-variant",
        "line-height", "letter-spacing", "word-spacing",
        "text-align", "text-decoration", "text-decoration-line", "text-decoration-color",
        "text-decoration-style", "text-indent", "text-transform", "vertical-align",
        "white-space", "direction", "word-break", "word-wrap", "overflow-wrap",
        "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
        "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
        "border", "border-top", "border-right", "border-bottom", "border-left",
        "border-width", "border-style", "border-color", "border-radius",
        "border-top-width", "border-right-width", "border-bottom-width", "border-left-width",
        "border-top-style", "border-right-style", "border-bottom-style", "border-left-style",
        "border-top-color", "border-right-color", "border-bottom-color", "border-left-color",
        "border-collapse", "border-spacing",
        "width", "height", "min-width", "max-width", "min-height", "max-height",
        "display", "float", "clear", "table-layout", "caption-side", "empty-cells",
        "list-style-type", "list-style-position",
    ]

    /// `display: none` stays: mail uses it for preheader text that must not show.
    static let displayValues: Set<String> = [
        "none", "block", "inline", "inline-block", "table", "table-row", "table-cell", "list-item",
    ]

    /// The only functions a value may call; none of them can load or run anything.
    static let functions: Set<String> = ["rgb", "rgba", "hsl", "hsla"]

    /// Belt and braces over the character rules below.
    private static let forbiddenWords: [[UInt8]] = ["expression", "url(", "javascript", "vbscript", "behavior",
                                                    "binding", "@import"].map { Array($0.utf8) }

    /// The declarations of `style` that pass, written out again, or nil when none does.
    static func filter(_ style: String) -> String? {
        let bytes = Array(style.utf8)
        // A backslash starts a CSS escape (CSS Syntax 3 §4.3.7) that can spell any keyword
        // ("u\rl(" is url()), and a comment can split one ("expr/**/ession(", old IE).
        // Neither has a use in a mail body, so the whole attribute goes.
        if bytes.contains(UInt8(ascii: "\\")) || contains(bytes[...], Array("/*".utf8)) { return nil }
        let kept = declarations(of: bytes).compactMap(filterDeclaration)
        return kept.isEmpty ? nil : kept.joined(separator: "; ")
    }

    /// Splits at ";" outside quotes and parentheses, as a CSS parser would.
    private static func declarations(of style: [UInt8]) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var start = style.startIndex
        var quote: UInt8? = nil
        var depth = 0
        for (index, byte) in style.enumerated() {
            if let q = quote {
                if byte == q { quote = nil }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
            } else if byte == UInt8(ascii: "(") {
                depth += 1
            } else if byte == UInt8(ascii: ")") {
                depth = max(0, depth - 1)
            } else if byte == UInt8(ascii: ";") && depth == 0 {
                result.append(style[start..<index])
                start = index + 1
            }
        }
        result.append(style[start...])
        return result
    }

    private static func filterDeclaration(_ declaration: ArraySlice<UInt8>) -> String? {
        guard let colon = declaration.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let name = String(decoding: lowercased(trimmed(declaration[..<colon])), as: UTF8.self)
        guard allowedProperties.contains(name) else { return nil }
        var value = trimmed(declaration[(colon + 1)...])

        var important = false
        if let bang = value.lastIndex(of: UInt8(ascii: "!")),
           lowercased(trimmed(value[(bang + 1)...])) == Array("important".utf8) {
            important = true
            value = trimmed(value[..<bang])
        }
        guard !value.isEmpty, value.count <= 512, let normalized = checkedValue(value) else { return nil }
        let lowered = lowercased(normalized[...])
        guard !forbiddenWords.contains(where: { contains(lowered[...], $0) }) else { return nil }
        let text = String(decoding: normalized, as: UTF8.self)
        if name == "display" && !displayValues.contains(String(decoding: lowered, as: UTF8.self)) { return nil }
        return "\(name): \(text)" + (important ? " !important" : "")
    }

    private static let notInStrings: [UInt8] = Array("\\;{}<>()".utf8)

    /// The value with its white space made single spaces, or nil when it holds anything but
    /// words, numbers, colours, commas, slashes, quoted font names and the allowed functions.
    private static func checkedValue(_ value: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(value.count)
        var quote: UInt8? = nil
        var inFunction = false
        var word: [UInt8] = []   // the name just before the current character, for "name("
        for byte in value {
            if let q = quote {
                if byte == q {
                    quote = nil
                } else if byte < 0x20 || byte == 0x7F || notInStrings.contains(byte) {
                    // A newline inside a string makes a CSS "bad string", which a browser
                    // then reads differently from here (CSS Syntax 3 §4.3.5).
                    return nil
                }
                out.append(byte)
                continue
            }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                quote = byte
                word.removeAll()
            case UInt8(ascii: "("):
                let function = String(decoding: lowercased(word[...]), as: UTF8.self)
                guard !inFunction, functions.contains(function) else { return nil }
                inFunction = true
                word.removeAll()
            case UInt8(ascii: ")"):
                guard inFunction else { return nil }
                inFunction = false
                word.removeAll()
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), 0x80...0xFF:
                // Bytes >= 0x80 belong to letters of other scripts, as in unquoted Chinese
                // font names; they never form CSS syntax but may not start a function name.
                word.append(byte)
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), 0x0C:
                word.removeAll()
                if out.last != UInt8(ascii: " ") { out.append(UInt8(ascii: " ")) }
                continue
            case UInt8(ascii: "#"), UInt8(ascii: "%"), UInt8(ascii: "."), UInt8(ascii: ","),
                 UInt8(ascii: "/"), UInt8(ascii: "+"):
                word.removeAll()
            default:
                return nil
            }
            out.append(byte)
        }
        guard quote == nil, !inFunction else { return nil }
        return Array(trimmed(out[...]))
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var bytes = bytes
        while let first = bytes.first, isSpace(first) { bytes.removeFirst() }
        while let last = bytes.last, isSpace(last) { bytes.removeLast() }
        return bytes
    }

    private static func lowercased(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
    }

    private static func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
        var start = haystack.startIndex
        while start <= haystack.endIndex - needle.count {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
            start += 1
        }
        return false
    }
}
