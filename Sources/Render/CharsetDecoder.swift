// Turns a MIME part's bytes into UTF-8 before libxml2 sees them, using the part's charset.
//
// Why not let libxml2 convert (htmlReadMemory's encoding argument)? Tried with 2.9.14:
// invalid UTF-8 is kept raw in the tree; and on the first byte iconv cannot convert (a stray
// 0x81 in windows-1252, a broken Shift_JIS pair) it prints "encoding error" on stderr despite
// HTML_PARSE_NOERROR and silently drops the rest of the message. Here every bad byte becomes
// U+FFFD and the rest is kept. libxml2 is then told "UTF-8", which (as the charset argument
// did) keeps a `<meta charset>` in the body from overriding the MIME charset.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum CharsetDecoder {
    static func utf8(_ bytes: [UInt8], charset: String?) -> [UInt8] {
        let label = charset.map(normalizedLabel) ?? ""
        let text: String
        switch label {
        case "utf-8", "utf8":
            text = String(decoding: bytes, as: UTF8.self)
        case "", "us-ascii", "ascii", "ansi_x3.4-1968", "unknown-8bit", "x-unknown", "x-user-defined":
            // No charset, or one that 8-bit bytes contradict: UTF-8 if the bytes are valid
            // UTF-8, else the encoding such mail almost always is.
            text = isValidUTF8(bytes) ? String(decoding: bytes, as: UTF8.self) : windows1252(bytes)
        case "iso-8859-1", "iso8859-1", "latin1", "l1", "iso_8859-1", "cp819", "ibm819",
             "windows-1252", "cp1252", "x-cp1252":
            // WHATWG Encoding §4.2 reads all these labels as windows-1252: Outlook labels
            // its curly quotes (0x93, 0x94) as ISO-8859-1.
            text = windows1252(bytes)
        default:
            text = iconvDecode(bytes, from: iconvAliases[label] ?? label)
                ?? (isValidUTF8(bytes) ? String(decoding: bytes, as: UTF8.self) : windows1252(bytes))
        }
        return cleaned(text)
    }

    /// Labels mail uses whose glibc iconv name differs, mapped as WHATWG Encoding §4.2 maps
    /// them (each to the superset that senders actually produce).
    private static let iconvAliases: [String: String] = [
        "gb2312": "GB18030", "gbk": "GB18030", "x-gbk": "GB18030", "chinese": "GB18030",
        "ks_c_5601-1987": "CP949", "euc-kr": "CP949", "korean": "CP949",
        "shift_jis": "CP932", "sjis": "CP932", "x-sjis": "CP932", "ms_kanji": "CP932",
        "windows-31j": "CP932",
        "big5": "BIG5-HKSCS",
        "iso-8859-9": "WINDOWS-1254", "latin5": "WINDOWS-1254",
        "iso-8859-11": "WINDOWS-874", "tis-620": "WINDOWS-874",
    ]

    private static func normalizedLabel(_ charset: String) -> String {
        var label = charset.lowercased()
        label.removeAll { $0 == "\"" || $0 == "'" || $0 == " " || $0 == "\t" }
        return label
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

    private static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// Windows-1252 (WHATWG Encoding index): Latin-1 with printable characters in 0x80–0x9F;
    /// the five unassigned bytes map to the C1 control of the same value, as WHATWG says.
    private static func windows1252(_ bytes: [UInt8]) -> String {
        let high: [UInt32] = [
            0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
            0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
            0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
            0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
        ]
        var scalars = String.UnicodeScalarView()
        for byte in bytes {
            let value = (0x80...0x9F).contains(byte) ? high[Int(byte) - 0x80] : UInt32(byte)
            scalars.append(Unicode.Scalar(value)!)
        }
        return String(scalars)
    }

    /// Converts with the system's iconv; an unconvertible byte becomes U+FFFD and conversion
    /// goes on after it. nil when iconv does not know the charset.
    private static func iconvDecode(_ bytes: [UInt8], from charset: String) -> String? {
        guard let cd = iconv_open("UTF-8", charset), cd != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }
        defer { iconv_close(cd) }
        guard !bytes.isEmpty else { return "" }

        var result: [UInt8] = []
        result.reserveCapacity(bytes.count * 2)
        var input = bytes.map { CChar(bitPattern: $0) }
        var output = [CChar](repeating: 0, count: 64 * 1024)
        input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                var inPointer = inBuffer.baseAddress
                var inLeft = inBuffer.count
                var flushing = false
                while true {
                    var outPointer = outBuffer.baseAddress
                    var outLeft = outBuffer.count
                    // Once the input is used up, a call without input writes out what a
                    // stateful encoding (ISO-2022-JP) still holds.
                    if inLeft == 0 { flushing = true }
                    let status = flushing ? iconv(cd, nil, nil, &outPointer, &outLeft)
                                          : iconv(cd, &inPointer, &inLeft, &outPointer, &outLeft)
                    let failure = status == -1 ? errno : 0
                    result.append(contentsOf: outBuffer.prefix(outBuffer.count - outLeft).map { UInt8(bitPattern: $0) })
                    if status != -1 {
                        if flushing { break } else { continue }
                    }
                    if failure == E2BIG { continue }
                    // EILSEQ (a bad sequence) or EINVAL (cut off at the end): mark it and go
                    // on from the next byte.
                    result.append(contentsOf: [0xEF, 0xBF, 0xBD])
                    guard inLeft > 0, !flushing else { break }
                    inPointer = inPointer.map { $0 + 1 }
                    inLeft -= 1
                }
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}
