// Escaping for text and double-quoted attribute values, the only two places where the
// serializers write anything that came from a message.

enum HTMLEscape {
    /// `&`, `<` and `>` become references, so no text can open a tag, end one (`</`) or
    /// start a character reference that a browser would decode differently.
    static func text(_ text: String, into out: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            default: out.append(byte)
            }
        }
    }

    /// For values written between double quotes. `<` and `>` are escaped too: a value that a
    /// later parse puts in raw-text context (the mXSS pattern `title="</noscript><img …>"`)
    /// then holds no markup at all.
    static func attribute(_ value: String, into out: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            default: out.append(byte)
            }
        }
    }

    static func text(_ text: String) -> String {
        var out: [UInt8] = []
        Self.text(text, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func attribute(_ value: String) -> String {
        var out: [UInt8] = []
        attribute(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
