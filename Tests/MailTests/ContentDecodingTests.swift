// Parts are decoded straight into their arrays, in 64 KiB steps, and parsed from borrowed
// memory: the result must be what GMime's own data-wrapper path gives, byte for byte, for
// every transfer encoding and for malformed input, and large attachments and the signed
// content must come out whole.
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

    func testSignedContentFullOfHyphensIsCutAtTheRealDelimiterOnly() throws {
        // Hyphen runs, and the delimiter in the middle of a line, must not end the part. (A line
        // that merely starts with the delimiter is one: RFC 2046 §5.1.1 has senders avoid it.)
        let content = "Content-Type: text/plain\r\n\r\n---- not yet\r\nx------B inside a line\r\n-----B almost\r\n"
            + String(repeating: "-", count: 70_000) + "\r\n--\r\n"
        let text = "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"----B\"\r\n\r\n"
            + "------B\r\n\(content)\r\n------B\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + "MIIBAgYJKoZIhvcNAQcC\r\n\r\n------B--\r\n"
        let entity = try SignedEntity.parse(Array(text.utf8))
        XCTAssertEqual(entity.detachedContent, Array(content.utf8))
    }

    func testTunnelPayloadOfSeveralMegabytesKeepsTheOriginalExactly() throws {
        let original = Array("From: a@corp.example\r\nSubject: big\r\n\r\n".utf8)
            + Array(Data(Self.random(2_500_000, seed: 6)).base64EncodedString(options: .lineLength76Characters).utf8) + [13, 10]
        let payload = try TunnelPayload.build(envelopeJSON: Array("{\"version\":1}".utf8), original: original, boundary: "spoolrun-test")
        let parsed = try TunnelPayload.parse(payload)
        XCTAssertEqual(parsed.original, original)
        XCTAssertEqual(parsed.envelope, Array("{\"version\":1}".utf8))
    }
}
