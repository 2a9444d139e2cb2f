// Body text in any charset to UTF-8. GMime maps the charset label to an iconv name
// (g_mime_iconv_open applies g_mime_charset_iconv_name, so "latin2", "ks_c_5601-1987" and the
// like work); the conversion loop is ours rather than GMime's charset filter, because the
// filter silently drops bytes that are invalid in the charset and we want to say so.
internal import CGMime
import Glibc

struct DecodedText {
    let text: String
    /// Why the text may not be what the sender meant; names the charset, never content.
    let problem: String?
}

enum TextDecoding {
    /// `bytes` (Content-Transfer-Encoding already undone) as text, decoded from `charset`.
    static func decode(_ bytes: [UInt8], charset: String?) -> DecodedText {
        let label = charset.map { $0.trimmingWhitespace().trimmingQuotes().lowercased() } ?? ""
        switch label {
        case "", "us-ascii", "ascii", "ansi_x3.4-1968", "us":
            // RFC 2046 §4.1.2 makes us-ascii the default, but 8-bit text without a charset is
            // nearly always UTF-8 or Latin-1 in practice.
            if UTF8Check.isASCII(bytes) || UTF8Check.isValid(bytes) {
                return DecodedText(text: String(decoding: bytes, as: UTF8.self), problem: nil)
            }
            let what = label.isEmpty ? "no charset is given" : "the text is labelled \(label)"
            return DecodedText(text: Windows1252.decode(bytes),
                               problem: "\(what) but has 8-bit bytes that are not UTF-8; shown as Latin-1 (Windows-1252)")
        case "utf-8", "utf8", "unicode-1-1-utf-8":
            let valid = UTF8Check.isValid(bytes)
            return DecodedText(text: String(decoding: bytes, as: UTF8.self),
                               problem: valid ? nil : "bytes that are not valid UTF-8 were replaced")
        case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1", "windows-1252", "cp1252", "x-cp1252", "cp819",
             "ibm819", "iso-ir-100":
            return DecodedText(text: Windows1252.decode(bytes), problem: nil)
        default:
            guard let converted = convert(bytes, from: label) else {
                let name = printable(label)
                if UTF8Check.isValid(bytes) {
                    return DecodedText(text: String(decoding: bytes, as: UTF8.self),
                                       problem: "unknown charset \(name), shown as UTF-8")
                }
                return DecodedText(text: Windows1252.decode(bytes),
                                   problem: "unknown charset \(name), shown as Latin-1 (Windows-1252)")
            }
            let problem = converted.replaced > 0
                ? "\(converted.replaced) byte(s) not valid in charset \(printable(label)) were replaced" : nil
            return DecodedText(text: String(decoding: converted.utf8, as: UTF8.self), problem: problem)
        }
    }

    /// Whether iconv (through GMime's name mapping) knows `charset`.
    static func isKnown(_ charset: String) -> Bool {
        let label = charset.trimmingWhitespace().trimmingQuotes().lowercased()
        guard !label.isEmpty else { return false }
        GMimeRuntime.ensure()
        guard let cd = g_mime_iconv_open("UTF-8", label), Int(bitPattern: cd) != -1 else { return false }
        g_mime_iconv_close(cd)
        return true
    }

    /// Converts with iconv; each byte iconv rejects becomes U+FFFD. Nil when iconv does not
    /// know the charset.
    private static func convert(_ bytes: [UInt8], from label: String) -> (utf8: [UInt8], replaced: Int)? {
        GMimeRuntime.ensure()
        guard let cd = g_mime_iconv_open("UTF-8", label), Int(bitPattern: cd) != -1 else { return nil }
        defer { g_mime_iconv_close(cd) }
        let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 2 + 16)
        var replaced = 0
        var chunk = [CChar](repeating: 0, count: 16 * 1024)

        bytes.withUnsafeBufferPointer { input in
            guard let base = input.baseAddress else { return }
            var inPtr: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(mutating: base)
                .assumingMemoryBound(to: CChar.self)
            var inLeft = input.count
            chunk.withUnsafeMutableBufferPointer { buffer in
                // GMime caches converters; start from the initial shift state.
                _ = iconv(cd, nil, nil, nil, nil)
                func drain(_ outLeft: Int) {
                    let produced = buffer.count - outLeft
                    if produced > 0 {
                        out.append(contentsOf: UnsafeRawBufferPointer(start: buffer.baseAddress, count: produced))
                    }
                }
                while inLeft > 0 {
                    var outPtr = buffer.baseAddress
                    var outLeft = buffer.count
                    let before = inLeft
                    let result = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft)  // size_t imports as Int
                    let error = errno
                    drain(outLeft)
                    guard result == -1 else {
                        if inLeft == before { break }  // no progress and no error: never loop on it
                        continue
                    }
                    switch error {
                    case E2BIG:
                        continue
                    case EINVAL:  // an incomplete sequence at the end
                        out += replacement
                        replaced += 1
                        inLeft = 0
                    default:  // EILSEQ: skip one byte and go on
                        out += replacement
                        replaced += 1
                        inPtr = inPtr.map { $0 + 1 }
                        inLeft -= 1
                    }
                }
                // Stateful charsets (ISO-2022-JP) may owe a final shift sequence.
                var outPtr = buffer.baseAddress
                var outLeft = buffer.count
                _ = iconv(cd, nil, nil, &outPtr, &outLeft)
                drain(outLeft)
            }
        }
        return (out, replaced)
    }

    /// A charset label fit for a note: printable ASCII, at most 40 characters.
    private static func printable(_ label: String) -> String {
        let kept = label.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F }.prefix(40)
        return kept.isEmpty ? "(unnamed)" : String(String.UnicodeScalarView(kept))
    }
}

extension String {
    func trimmingQuotes() -> String {
        var s = Substring(self)
        while s.first == "\"" || s.first == "'" { s.removeFirst() }
        while s.last == "\"" || s.last == "'" { s.removeLast() }
        return String(s)
    }
}
