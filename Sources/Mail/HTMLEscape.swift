// The one HTML escaper: text and double-quoted attribute values. The sanitizer's serializer
// and the plain-text renderer (Render) write with it, and so does the message reader when it
// sets a plain part between HTML parts.

package enum HTMLEscape {
    /// `&`, `<` and `>` become references, so no text can open a tag, end one (`</`) or
    /// start a character reference that a browser would decode differently.
    package static func text(_ text: String, into out: inout [UInt8]) {
        var text = text
        text.withUTF8 { Self.text($0, into: &out) }
    }

    /// The same over UTF-8 bytes; runs without anything to escape are copied whole. Each
    /// byte looked for is ASCII, and a byte below 0x80 is never part of a longer sequence.
    package static func text(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var run = 0
        for (i, byte) in bytes.enumerated() {
            let reference: String
            switch byte {
            case UInt8(ascii: "&"): reference = "&amp;"
            case UInt8(ascii: "<"): reference = "&lt;"
            case UInt8(ascii: ">"): reference = "&gt;"
            default: continue
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i]))
            out.append(contentsOf: reference.utf8)
            run = i + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
    }

    /// For values written between double quotes. `<` and `>` are escaped too: a value that a
    /// later parse puts in raw-text context (the mXSS pattern `title="</noscript><img …>"`)
    /// then holds no markup at all.
    package static func attribute(_ value: String, into out: inout [UInt8]) {
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

    package static func text(_ text: String) -> String {
        var out: [UInt8] = []
        Self.text(text, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    package static func attribute(_ value: String) -> String {
        var out: [UInt8] = []
        attribute(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
