// A mail body as libxml2 is given it: decoded from the MIME part's charset by Mail's
// TextDecoding (the one charset decoder), then freed of what libxml2 mishandles.
//
// Why not let libxml2 convert (htmlReadMemory's encoding argument)? Tried with 2.9.14:
// invalid UTF-8 is kept raw in the tree; and on the first byte iconv cannot convert (a stray
// 0x81 in windows-1252, a broken Shift_JIS pair) it prints "encoding error" on stderr despite
// HTML_PARSE_NOERROR and silently drops the rest of the message. Decoded first, every bad
// byte becomes U+FFFD and the rest is kept. libxml2 is then told "UTF-8", which (as the
// charset argument did) keeps a `<meta charset>` in the body from overriding the MIME charset.
// (Not in LibXML2Document.swift: that file must not see Foundation, which Mail imports.)
import Mail

extension LibXML2Document {
    /// Parses a mail body in `charset` (nil when the part names none). nil only if libxml2
    /// cannot allocate a document.
    convenience init?(html: [UInt8], charset: String?) {
        self.init(utf8: Self.utf8(html, charset: charset))
    }

    static func utf8(_ bytes: [UInt8], charset: String?) -> [UInt8] {
        cleaned(TextDecoding.decode(bytes, charset: charset).text)
    }

    /// No NUL (libxml2 would end a string there) and no byte-order mark.
    private static func cleaned(_ text: String) -> [UInt8] {
        var utf8 = text.utf8[...]
        if utf8.starts(with: [0xEF, 0xBB, 0xBF]) { utf8 = utf8.dropFirst(3) }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        for byte in utf8 {
            if byte == 0 { out.append(contentsOf: [0xEF, 0xBF, 0xBD]) } else { out.append(byte) }
        }
        return out
    }
}
