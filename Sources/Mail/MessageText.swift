// Pure-Swift text handling for the message reader: format=flowed (RFC 3676), attachment file
// names made safe for a download, and the Windows-1252 decoding that stands in for Latin-1.

/// RFC 3676 §4: undoes format=flowed, so that paragraphs wrapped by the sender flow again.
enum FormatFlowed {
    /// `text` has LF line ends. With `delSp` (the `delsp=yes` parameter, §4.2) the space that
    /// marks a flowed line was added by the sender and is removed when lines are joined.
    static func unwrap(_ text: String, delSp: Bool) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let endsWithNewline = lines.last == ""
        if endsWithNewline { lines.removeLast() }

        var out: [String] = []
        var paragraph: String? = nil
        var paragraphDepth = 0
        func flush() {
            guard let p = paragraph else { return }
            out.append(paragraphDepth > 0 ? String(repeating: ">", count: paragraphDepth) + " " + p : p)
            paragraph = nil
        }
        for raw in lines {
            // §4.5: the quote depth is the number of leading '>'.
            var line = raw[...]
            var depth = 0
            while line.first == ">" { depth += 1; line = line.dropFirst() }
            // §4.4: a leading space was added by space-stuffing.
            if line.first == " " { line = line.dropFirst() }
            // §4.3: the signature separator "-- " is never flowed.
            let flowed = line.last == " " && line != "-- "
            if flowed, delSp { line = line.dropLast() }
            // §4.5: a flowed line followed by a line of another quote depth ends its paragraph.
            if paragraph != nil, depth != paragraphDepth { flush() }
            if paragraph == nil {
                paragraph = String(line)
                paragraphDepth = depth
            } else {
                paragraph! += line
            }
            if !flowed { flush() }
        }
        flush()
        return out.joined(separator: "\n") + (endsWithNewline ? "\n" : "")
    }
}

/// Attachment file names as the browser will save them.
enum AttachmentName {
    /// Bidirectional controls make "photo\u{202E}gpj.exe" display as "photoexe.jpg" (the
    /// right-to-left override trick); they are dropped with the other invisible controls.
    private static let bidiControls: Set<UInt32> = [0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
                                                    0x2066, 0x2067, 0x2068, 0x2069]
    /// Reserved in Windows file names; a download may land there.
    private static let reserved: Set<Character> = ["<", ">", ":", "\"", "|", "?", "*"]
    private static let maxUTF8Bytes = 200

    /// The last path component of `name` without control characters, or nil when nothing
    /// usable is left.
    static func sanitized(_ name: String?) -> String? {
        guard let name else { return nil }
        // Either separator may be meant ("C:\Users\x.pdf", "../../etc/passwd").
        let base = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var cleaned = String.UnicodeScalarView()
        for scalar in base.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                continue
            default:
                if bidiControls.contains(scalar.value) || scalar.value == 0xFEFF { continue }
                cleaned.append(reserved.contains(Character(scalar)) ? "_" : scalar)
            }
        }
        var s = Substring(String(cleaned))
        // Leading dots hide a file (and ".." walks up); trailing dots and spaces vanish on Windows.
        while let c = s.first, c == "." || c.isWhitespace { s.removeFirst() }
        while let c = s.last, c == "." || c.isWhitespace { s.removeLast() }
        guard !s.isEmpty else { return nil }
        return truncated(String(s))
    }

    /// A name for a part that has none, or none that survived `sanitized`.
    static func fallback(index: Int, mediaType: String) -> String {
        "attachment-\(index).\(fileExtension(for: mediaType))"
    }

    /// Keeps the extension when the name is cut to `maxUTF8Bytes`.
    private static func truncated(_ name: String) -> String {
        guard name.utf8.count > maxUTF8Bytes else { return name }
        var ext = ""
        if let dot = name.lastIndex(of: "."), name.distance(from: dot, to: name.endIndex) <= 16 {
            ext = String(name[dot...])
        }
        var stem = ""
        for c in name.dropLast(ext.count) {
            if stem.utf8.count + String(c).utf8.count + ext.utf8.count > maxUTF8Bytes { break }
            stem.append(c)
        }
        return stem + ext
    }

    static func fileExtension(for mediaType: String) -> String {
        switch mediaType {
        case "text/plain": return "txt"
        case "text/html": return "html"
        case "text/calendar": return "ics"
        case "text/csv": return "csv"
        case "text/xml", "application/xml": return "xml"
        case "application/json": return "json"
        case "application/pdf": return "pdf"
        case "application/zip": return "zip"
        case "application/pkcs7-signature", "application/x-pkcs7-signature": return "p7s"
        case "application/pkcs7-mime", "application/x-pkcs7-mime": return "p7m"
        case "application/pgp-signature": return "asc"
        case "image/png": return "png"
        case "image/jpeg", "image/jpg", "image/pjpeg": return "jpg"
        case "image/gif": return "gif"
        case "image/webp": return "webp"
        case "image/svg+xml": return "svg"
        case "audio/mpeg": return "mp3"
        case "video/mp4": return "mp4"
        case "message/rfc822", "message/global", "message/news": return "eml"
        case "message/delivery-status", "message/disposition-notification", "text/rfc822-headers": return "txt"
        default: return "bin"
        }
    }
}

/// The WHATWG Encoding Standard reads the labels "iso-8859-1", "latin1" and "us-ascii" as
/// windows-1252, and so do mail clients: senders that say Latin-1 often mean it. Every byte
/// maps to something, so this decoding never fails.
enum Windows1252 {
    /// 0x80...0x9F; the five bytes windows-1252 leaves undefined map to the C1 controls, as
    /// WHATWG specifies.
    private static let high: [UInt32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D,
        0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x009D, 0x017E, 0x0178,
    ]

    static func decode(_ bytes: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.reserveCapacity(bytes.count)
        for b in bytes {
            let value = (0x80...0x9F).contains(b) ? high[Int(b) - 0x80] : UInt32(b)
            scalars.append(Unicode.Scalar(value)!)
        }
        return String(scalars)
    }
}

enum UTF8Check {
    static func isValid(_ bytes: [UInt8]) -> Bool {
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

    static func isASCII(_ bytes: [UInt8]) -> Bool { bytes.allSatisfy { $0 < 0x80 } }
}

extension String {
    /// CRLF and lone CR become LF.
    func normalizingLineEnds() -> String {
        // Scalars, not Characters: "\r\n" is one Character, so contains("\r") misses it.
        guard unicodeScalars.contains("\r") else { return self }
        return replacingCRLF()
    }

    private func replacingCRLF() -> String {
        // On the UTF-8 bytes: CR (0x0D) and LF (0x0A) never occur inside a multi-byte sequence.
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var previousCR = false
        for byte in utf8 {
            if byte == 0x0D {
                out.append(0x0A)
                previousCR = true
                continue
            }
            if byte == 0x0A, previousCR {
                previousCR = false
                continue
            }
            previousCR = false
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
