// Body text in any charset to UTF-8: the one charset decoder, for the message reader (bodies,
// encoded words) and for the sanitizer (Render hands libxml2 what this gives). GMime maps the
// charset label to an iconv name (g_mime_iconv_open applies g_mime_charset_iconv_name, so
// "latin2" and the like work); the conversion loop is ours rather than GMime's charset
// filter, because the filter silently drops bytes that are invalid in the charset and we
// want to say so.
internal import CGMime
import Glibc

package struct DecodedText {
    package let text: String
    /// Why the text may not be what the sender meant; names the charset, never content.
    package let problem: String?
}

package enum TextDecoding {
    /// `bytes` (Content-Transfer-Encoding already undone) as text, decoded from `charset`.
    package static func decode(_ bytes: [UInt8], charset: String?) -> DecodedText {
        let label = charset.map(normalizedLabel) ?? ""
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
            guard !unknownCharsetLabels.contains(label), let converted = convert(bytes, from: label) else {
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
    package static func isKnown(_ charset: String) -> Bool {
        let label = normalizedLabel(charset)
        guard !label.isEmpty, let converter = Converter(label) else { return false }
        converter.close()
        return true
    }

    /// Labels that say only "some 8-bit charset" (RFC 1428's unknown-8bit and the like): read
    /// as an unknown charset is. Not through iconv: GMime maps x-unknown to the locale's
    /// charset, which under the C locale is ASCII and made every 8-bit byte U+FFFD.
    private static let unknownCharsetLabels: Set<String> = ["unknown-8bit", "x-unknown", "x-user-defined"]

    /// Lower case, without the quotes and white space that mail programs put in and around
    /// a label (`charset="iso 8859-1"`).
    private static func normalizedLabel(_ charset: String) -> String {
        String(charset.lowercased().unicodeScalars.filter {
            $0 != "\"" && $0 != "'" && !$0.properties.isWhitespace
        }.map(Character.init))
    }

    /// Labels mail uses for an encoding that senders actually write as a superset: read as
    /// WHATWG Encoding §4.2 reads them, so that the superset's extra characters (Outlook's
    /// Korean, Windows' Japanese and Chinese) decode instead of becoming U+FFFD.
    private static let supersets: [String: String] = [
        "gb2312": "GB18030", "gbk": "GB18030", "x-gbk": "GB18030", "chinese": "GB18030",
        "ks_c_5601-1987": "CP949", "euc-kr": "CP949", "korean": "CP949",
        "shift_jis": "CP932", "sjis": "CP932", "x-sjis": "CP932", "ms_kanji": "CP932",
        "windows-31j": "CP932",
        "big5": "BIG5-HKSCS",
        "iso-8859-9": "WINDOWS-1254", "latin5": "WINDOWS-1254",
        "iso-8859-11": "WINDOWS-874", "tis-620": "WINDOWS-874",
    ]

    /// An iconv descriptor to UTF-8: GMime's (its name mapping, its cache) if GMime knows the
    /// charset, else glibc's under the label as given, which knows a few names GMime's
    /// mapping does not pass through.
    private struct Converter {
        let cd: iconv_t
        let fromGMime: Bool

        init?(_ label: String) {
            let name = TextDecoding.supersets[label] ?? label
            GMimeRuntime.ensure()
            if let cd = g_mime_iconv_open("UTF-8", name), Int(bitPattern: cd) != -1 {
                self.cd = cd
                fromGMime = true
            } else if let cd = iconv_open("UTF-8", name), Int(bitPattern: cd) != -1 {
                self.cd = cd
                fromGMime = false
            } else {
                return nil
            }
        }

        func close() {
            if fromGMime { g_mime_iconv_close(cd) } else { iconv_close(cd) }
        }
    }

    /// Converts with iconv; each byte iconv rejects becomes U+FFFD. Nil when iconv does not
    /// know the charset.
    private static func convert(_ bytes: [UInt8], from label: String) -> (utf8: [UInt8], replaced: Int)? {
        guard let converter = Converter(label) else { return nil }
        let cd = converter.cd
        defer { converter.close() }
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
