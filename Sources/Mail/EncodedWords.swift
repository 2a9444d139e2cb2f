// RFC 2047 encoded words in unstructured header text (Subject), read and written by us rather
// than by GMime: the GMime 3.2.13 that Debian 12 ships merges adjacent base64 words of one
// charset and decodes them as one stream, so a padded first word ends the text
// (jstedfast/gmime#133): "=?UTF-8?B?w5Y=?= =?UTF-8?B?w5Y=?=" came out as "Ö", and a
// "[secure]" tag in a long subject's second word went unseen.
//
// Reading: each word is decoded on its own (B or Q); the bytes of adjacent words in the same
// charset are joined before the charset is applied, so a character split across two words
// (which mail programs do) still comes out whole; white space between adjacent encoded words
// is dropped (RFC 2047 §6.2). A malformed word stays as it was written.
// Writing: Q-encoded UTF-8 words of at most 75 characters, split between characters.
import Foundation

public enum EncodedWords {
    public static func decode(_ raw: String) -> String {
        guard raw.contains("=?") else { return raw }
        enum Token { case word(charset: String, bytes: [UInt8]), text([UInt8]) }
        let s = Array(raw.utf8)
        var tokens: [Token] = []
        var text: [UInt8] = []
        var i = 0
        while i < s.count {
            if s[i] == 0x3D, i + 1 < s.count, s[i + 1] == 0x3F, let (w, end) = word(s, at: i) {
                if !text.isEmpty { tokens.append(.text(text)) }
                text = []
                tokens.append(.word(charset: w.charset, bytes: w.bytes))
                i = end
            } else {
                text.append(s[i])
                i += 1
            }
        }
        if !text.isEmpty { tokens.append(.text(text)) }

        func isWord(_ k: Int) -> Bool {
            guard tokens.indices.contains(k), case .word = tokens[k] else { return false }
            return true
        }
        var out = ""
        var run: (charset: String, bytes: [UInt8])?
        func flush() {
            if let r = run { out += TextDecoding.decode(r.bytes, charset: r.charset).text }
            run = nil
        }
        for (k, token) in tokens.enumerated() {
            switch token {
            case .word(let charset, let bytes):
                if run?.charset == charset { run!.bytes += bytes } else {
                    flush()
                    run = (charset, bytes)
                }
            case .text(let bytes):
                // White space between two encoded words is not part of the text.
                if isWord(k - 1) && isWord(k + 1) && bytes.allSatisfy({ [0x20, 0x09, 0x0D, 0x0A].contains($0) }) { continue }
                flush()
                out += String(decoding: bytes, as: UTF8.self)
            }
        }
        flush()
        return out
    }

    /// One encoded word starting at `start`: its charset (RFC 2231 language dropped), its
    /// decoded bytes, and where it ends. Nil when it is not a well-formed word.
    private static func word(_ s: [UInt8], at start: Int) -> ((charset: String, bytes: [UInt8]), Int)? {
        var i = start + 2
        var fields: [[UInt8]] = [[]]
        while i < s.count, fields.count <= 3 {
            let c = s[i]
            if c == 0x3F {  // "?"
                if fields.count == 3 {
                    guard i + 1 < s.count, s[i + 1] == 0x3D else { return nil }
                    break
                }
                fields.append([])
            } else if c <= 0x20 || c >= 0x7F {
                return nil
            } else {
                fields[fields.count - 1].append(c)
            }
            i += 1
        }
        guard fields.count == 3, i + 1 < s.count, s[i] == 0x3F, s[i + 1] == 0x3D, i + 2 - start <= 1000 else { return nil }
        var charset = String(decoding: fields[0], as: UTF8.self)
        if let star = charset.firstIndex(of: "*") { charset = String(charset[..<star]) }
        guard !charset.isEmpty else { return nil }
        let text = fields[2]
        let bytes: [UInt8]?
        switch fields[1] {
        case [0x42], [0x62]: bytes = base64(text)
        case [0x51], [0x71]: bytes = quoted(text)
        default: bytes = nil
        }
        guard let bytes else { return nil }
        return ((charset.lowercased(), bytes), i + 2)
    }

    private static func base64(_ text: [UInt8]) -> [UInt8]? {
        var t = String(decoding: text, as: UTF8.self)
        // Some writers leave out the padding.
        while t.utf8.count % 4 != 0 { t += "=" }
        return Data(base64Encoded: t).map { [UInt8]($0) }
    }

    private static func quoted(_ text: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0
        while i < text.count {
            let c = text[i]
            if c == 0x5F {
                out.append(0x20)
            } else if c == 0x3D {
                guard i + 2 < text.count, let h = hex(text[i + 1]), let l = hex(text[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 2
            } else {
                out.append(c)
            }
            i += 1
        }
        return out
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    /// `text` as Q-encoded UTF-8 words, separated by spaces, each at most 75 characters.
    public static func encode(_ text: String) -> String {
        let prefix = "=?utf-8?q?", suffix = "?="
        let room = 75 - prefix.count - suffix.count
        var words: [String] = []
        var current = ""
        for character in text {
            var piece = ""
            for b in String(character).utf8 {
                let plain = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                    || b == 0x21 || b == 0x2A || b == 0x2B || b == 0x2D || b == 0x2F
                if plain { piece.append(Character(Unicode.Scalar(b))) } else if b == 0x20 { piece += "_" } else {
                    piece += "=" + String(b, radix: 16, uppercase: true).leftPadded(to: 2)
                }
            }
            if current.count + piece.count > room && !current.isEmpty {
                words.append(prefix + current + suffix)
                current = ""
            }
            current += piece
        }
        if !current.isEmpty || words.isEmpty { words.append(prefix + current + suffix) }
        return words.joined(separator: " ")
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
