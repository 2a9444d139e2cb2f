// Parts are parsed from borrowed memory and decoded from it straight into their arrays,
// base64 partly in Swift: the result must be what GMime's own data-wrapper path gives, byte
// for byte, for every transfer encoding and for malformed input, and large attachments and
// the signed content must come out whole.
@testable import Mail
import Foundation
import TestSupport
import XCTest

final class ContentDecodingTests: XCTestCase {
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// A multipart/mixed message with one part per (header lines, body).
    func message(_ parts: [(String, [UInt8])], eol: String = "\r\n") -> [UInt8] {
        var out = Array("From: a@corp.example\(eol)To: b@ext.example\(eol)MIME-Version: 1.0\(eol)Content-Type: multipart/mixed; boundary=\"zz\"\(eol)\(eol)".utf8)
        for (headers, body) in parts {
            out += Array("--zz\(eol)\(headers)\(eol)\(eol)".utf8) + body + Array(eol.utf8)
        }
        out += Array("--zz--\(eol)".utf8)
        return out
    }

    func assertSameAsGMime(_ bytes: [UInt8], parts: Int, file: StaticString = #filePath, line: UInt = #line) {
        let decodings = GMimeReading.leafDecodings(of: bytes)
        XCTAssertEqual(decodings.count, parts, file: file, line: line)
        for (i, d) in decodings.enumerated() {
            XCTAssertEqual(d.decoded, d.reference, "part \(i + 1): \(d.decoded.count) vs \(d.reference.count) bytes",
                           file: file, line: line)
        }
    }

    func testEveryTransferEncodingDecodesAsGMimeDoes() {
        let binary = Self.random(5000, seed: 1)
        let cases: [(String, [UInt8])] = [
            ("Content-Transfer-Encoding: base64", Array(Data(binary).base64EncodedString(options: .lineLength76Characters).utf8)),
            ("Content-Transfer-Encoding: base64", Array(Data(binary).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed]).utf8)),
            // Unpadded, with characters outside the alphabet and '=' inside: GMime skips and stops as it does.
            ("Content-Transfer-Encoding: base64", Array("SGVsbG8gd29ybGQ\r\n!!*SGVs=bG8\r\n  d29y bGQ=\r\nQQ".utf8)),
            ("Content-Transfer-Encoding: quoted-printable",
             Array("caf=C3=A9 soft=\r\nbreak=\nLF soft, bad =ZZ escape, trailing   \r\n=3D=\r\n".utf8) + [0xE9, 0x0A]),
            ("Content-Transfer-Encoding: x-uuencode",
             Array("begin 644 hello.txt\n+2&5L;&\\@=V]R;&0*\n`\nend\n".utf8)),
            ("Content-Transfer-Encoding: 7bit", Array("plain\r\ntext\nwith mixed line ends\r\n".utf8)),
            ("Content-Transfer-Encoding: 8bit", Array("h\u{e9}llo 8-bit \u{1F600}\r\n".utf8)),
            ("Content-Transfer-Encoding: binary", binary.filter { $0 != 0x2D }),
            ("Content-Transfer-Encoding: x-unknown", Array("kept as it is =41\r\n".utf8)),
            ("Content-Type: text/plain", Array("no encoding given\r\n".utf8)),
            ("Content-Transfer-Encoding: base64", []),
        ]
        assertSameAsGMime(message(cases.map { ("Content-Type: application/octet-stream\r\n" + $0.0, $0.1) }), parts: cases.count)
    }

    // Base64 is decoded partly in Swift and partly by GMime (GMimeBase64Decoder): what
    // comes out must be GMime's on any input. The cases are random but seeded.

    /// Random bytes as base64, cut into lines of random lengths (one length for all lines,
    /// or one per line), with one of the line ends, with or without padding and final newline.
    static func randomBase64(_ rng: inout SeededGenerator) -> [UInt8] {
        var text = Array(Data(random(rng.next(below: 3000), seed: rng.next())).base64EncodedString().utf8)
        if rng.next(below: 4) == 0 { text.removeAll { $0 == UInt8(ascii: "=") } }
        let eol = [[13, 10], [10], [13], [10, 10], [13, 10, 13, 10]][rng.next(below: 5)] as [UInt8]
        let fixed = rng.next(below: 2) == 0 ? [76, 64, 72, 4, 1 + rng.next(below: 120)][rng.next(below: 5)] : nil
        var out: [UInt8] = [], start = 0
        while start < text.count {
            let end = min(text.count, start + (fixed ?? 1 + rng.next(below: 120)))
            out += text[start..<end]
            if end < text.count || rng.next(below: 2) == 0 { out += eol }
            start = end
        }
        return out
    }

    /// `bytes` with a few random changes: junk characters (outside the alphabet; no '-' when
    /// the result goes into a multipart message), '=' in odd places, characters dropped,
    /// stray line ends, a cut.
    static func mutated(_ bytes: [UInt8], _ rng: inout SeededGenerator, hyphens: Bool) -> [UInt8] {
        var junk: [UInt8] = Array(" \t!\"#$%&'()*,.:;<>?@[]^_`{|}~\u{7F}".utf8) + [0x00, 0x0B, 0x0C, 0x80, 0xA0, 0xC3, 0xFF]
        if hyphens { junk.append(UInt8(ascii: "-")) }
        var out = bytes
        for _ in 0..<(1 + rng.next(below: 6)) {
            let at = rng.next(below: out.count + 1)
            switch rng.next(below: 7) {
            case 0, 1: out.insert(junk[rng.next(below: junk.count)], at: at)
            case 2: out.insert(UInt8(ascii: "="), at: at)
            case 3: out.insert(contentsOf: Array("==".utf8), at: at)
            case 4: if at < out.count { out.remove(at: at) }
            case 5: out.insert(contentsOf: [[13], [10], [13, 10]][rng.next(below: 3)], at: at)
            default: if rng.next(below: 3) == 0 { out.removeSubrange(at...) }
            }
        }
        return out
    }

    func testBase64OfAnyLineLengthAndLineEndDecodesAsGMimeDoes() {
        var rng = SeededGenerator(seed: 64)
        for _ in 0..<20 {
            let bodies = (0..<10).map { _ in Self.randomBase64(&rng) }
            assertSameAsGMime(message(bodies.map { ("Content-Transfer-Encoding: base64", $0) }), parts: bodies.count)
        }
    }

    func testBase64WithJunkPaddingInsideAndBrokenQuantaDecodesAsGMimeDoes() {
        var rng = SeededGenerator(seed: 65)
        for _ in 0..<40 {
            let bodies = (0..<10).map { _ in Self.mutated(Self.randomBase64(&rng), &rng, hyphens: false) }
            assertSameAsGMime(message(bodies.map { ("Content-Transfer-Encoding: base64", $0) }), parts: bodies.count)
        }
    }

    func testBase64DecoderGivesGMimesResultWhereverItsInputIsSplit() {
        var rng = SeededGenerator(seed: 66)
        for i in 0..<2000 {
            var input = Self.randomBase64(&rng)
            if i % 2 == 1 { input = Self.mutated(input, &rng, hyphens: true) }
            if i % 100 == 0 { input = Self.random(rng.next(below: 500), seed: rng.next()) }
            let pieces = (0..<rng.next(below: 8)).map { _ in rng.next(below: 2) == 0 ? rng.next(below: 6) : rng.next(below: 400) }
            let d = GMimeBase64Decoder.decodings(of: input, pieces: pieces)
            XCTAssertEqual(d.decoded, d.reference, "case \(i), pieces \(pieces): \(String(decoding: input.prefix(200), as: UTF8.self).debugDescription)")
        }
    }

    func testDecodingAcrossTheReadStepsKeepsItsState() {
        // One long line: the 64 KiB steps end in the middle of base64 quads and QP escapes.
        let binary = Self.random(300_001, seed: 2)
        let oneLine = Array(Data(binary).base64EncodedString().utf8)
        var qp: [UInt8] = []
        for b in Self.random(100_000, seed: 3) { qp += Array(String(format: "=%02X", b).utf8) }
        assertSameAsGMime(message([("Content-Transfer-Encoding: base64", oneLine),
                                   ("Content-Transfer-Encoding: quoted-printable", qp)]), parts: 2)
        let parsed = try? MessageParser.parse(message([("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64", oneLine)]))
        XCTAssertEqual(parsed?.attachments.first?.data, binary)
    }

    func testLargeAttachmentsComeOutByteForByte() throws {
        let first = Self.random(3 * 1024 * 1024 + 1, seed: 4), second = Self.random(1_000_000, seed: 5)
        for eol in ["\r\n", "\n"] {
            let lines: Data.Base64EncodingOptions = eol == "\n" ? [.lineLength76Characters, .endLineWithLineFeed]
                                                                : [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed]
            let bytes = message([
                ("Content-Type: text/plain; charset=utf-8", Array("See the attachments.".utf8)),
                ("Content-Type: application/octet-stream; name=\"a.bin\"\(eol)Content-Disposition: attachment; filename=\"a.bin\"\(eol)Content-Transfer-Encoding: base64",
                 Array(Data(first).base64EncodedString(options: lines).utf8)),
                ("Content-Type: application/zip; name=\"b.zip\"\(eol)Content-Transfer-Encoding: base64",
                 Array(Data(second).base64EncodedString(options: lines).utf8)),
            ], eol: eol)
            let parsed = try MessageParser.parse(bytes)
            XCTAssertEqual(parsed.textBody, "See the attachments.")
            XCTAssertEqual(parsed.attachments.map(\.filename), ["a.bin", "b.zip"])
            XCTAssertEqual(parsed.attachments.map(\.data), [first, second], "line ends \(eol.debugDescription)")
        }
    }
}
