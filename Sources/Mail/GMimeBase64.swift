// GMime's base64 decoder with its common case done in Swift: the large attachments of a
// sweep spent a quarter of their time in g_mime_encoding_base64_decode_step. The result is
// GMime's own, byte for byte, on any input, valid or not.
internal import CGMime

/// Decodes base64 step by step, keeping GMime's decoder state (`state`, `save`) between
/// steps, so input may be split anywhere.
///
/// g_mime_encoding_base64_decode_step (GMime 3.2) reads one character at a time: a
/// character outside the alphabet and not '=' is skipped and changes nothing; an alphabet
/// character adds 6 bits to `save` and counts in `state`, and the fourth writes 3 bytes and
/// sets both back to 0; '=' counts too, writes what the quantum holds (if it has at least 3
/// characters with the '=') and sets `state` to -1, after which GMime ignores all input.
/// Two of these steps are taken here, and only with `state` 0 (no partial quantum): four
/// alphabet characters in a row (3 bytes out, state stays 0) and a skipped character.
/// Everything else (a quantum broken by a line end or junk, '=', the end of the input) goes
/// to GMime's own function with the characters that complete the quantum.
struct GMimeBase64Decoder {
    /// GMime's: the characters held in `save`, or -1 once '=' ended the stream.
    private var state: Int32 = 0
    private var save: UInt32 = 0

    /// 0...63 for the alphabet, `Self.pad` for '=', `Self.skipped` for what GMime skips.
    private static let ranks: [UInt8] = {
        var ranks = [UInt8](repeating: skipped, count: 256)
        for (value, character) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            ranks[Int(character)] = UInt8(value)
        }
        ranks[Int(UInt8(ascii: "="))] = pad
        return ranks
    }()
    private static let pad: UInt8 = 0x40
    private static let skipped: UInt8 = 0xFF

    /// The most `decode` writes for `count` more input bytes: 3 per complete quantum, and 2
    /// when '=' ends a partial one.
    func maximumOutput(forInputCount count: Int) -> Int {
        state < 0 ? 0 : 3 * ((Int(state) + count) / 4) + 2
    }

    /// Decodes `input` into `output`, which must have room for `maximumOutput(forInputCount:
    /// input.count)` bytes, and returns how many were written.
    mutating func decode(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutablePointer<UInt8>) -> Int {
        guard var p = input.baseAddress else { return 0 }
        let end = p + input.count
        var out = output
        var state = self.state, save = self.save
        Self.ranks.withUnsafeBufferPointer { ranks in
            let rank = ranks.baseAddress!
            while p < end, state >= 0 {
                if state == 0 {
                    while end - p >= 4 {
                        let a = rank[Int(p[0])], b = rank[Int(p[1])], c = rank[Int(p[2])], d = rank[Int(p[3])]
                        // '=' and skipped characters have one of the two top bits set.
                        guard (a | b | c | d) & 0xC0 == 0 else { break }
                        let bits = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                        out[0] = UInt8(truncatingIfNeeded: bits >> 16)
                        out[1] = UInt8(truncatingIfNeeded: bits >> 8)
                        out[2] = UInt8(truncatingIfNeeded: bits)
                        out += 3
                        p += 4
                    }
                    if p == end { break }
                    if rank[Int(p.pointee)] == Self.skipped {
                        p += 1
                        continue
                    }
                }
                // GMime takes the characters up to the one that completes the quantum (or up
                // to the end of the input), skipped ones in between included.
                var q = p, wanted = 4 - Int(state)
                while q < end, wanted > 0 {
                    if rank[Int(q.pointee)] != Self.skipped { wanted -= 1 }
                    q += 1
                }
                out += g_mime_encoding_base64_decode_step(p, q - p, out, &state, &save)
                p = q
            }
        }
        self.state = state
        self.save = save
        return out - output
    }

    /// GMime's flush for a base64 decoder is a step over no input. It writes nothing in GMime
    /// 3.2, but is called so that a future GMime that does is still followed.
    mutating func finish(into output: UnsafeMutablePointer<UInt8>) -> Int {
        g_mime_encoding_base64_decode_step(nil, 0, output, &state, &save)
    }
}

extension GMimeBase64Decoder {
    /// `bytes` decoded in pieces of the given sizes (the rest in one), and the same decoded
    /// by GMime's function in one step: for tests.
    static func decodings(of bytes: [UInt8], pieces: [Int]) -> (decoded: [UInt8], reference: [UInt8]) {
        var decoder = GMimeBase64Decoder()
        var decoded: [UInt8] = []
        bytes.withUnsafeBufferPointer { all in
            var start = 0
            for size in pieces + [all.count] where start < all.count {
                let piece = UnsafeBufferPointer(rebasing: all[start..<min(all.count, start + max(0, size))])
                var scratch = [UInt8](repeating: 0, count: decoder.maximumOutput(forInputCount: piece.count))
                let n = scratch.withUnsafeMutableBufferPointer { decoder.decode(piece, into: $0.baseAddress!) }
                decoded += scratch.prefix(n)
                start += piece.count
            }
        }
        var scratch = [UInt8](repeating: 0, count: 4)
        decoded += scratch.prefix(scratch.withUnsafeMutableBufferPointer { decoder.finish(into: $0.baseAddress!) })

        var state: Int32 = 0, save: UInt32 = 0
        var reference = [UInt8](repeating: 0, count: bytes.count + 3)
        let n = reference.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { g_mime_encoding_base64_decode_step($0.baseAddress, $0.count, out.baseAddress, &state, &save) }
        }
        return (decoded, Array(reference.prefix(n)))
    }
}
