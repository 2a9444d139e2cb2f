// The tunnel payload carries the original message unchanged, byte for byte.
import Foundation
import Mail
import TestSupport
@testable import Tunnel
import XCTest

final class TunnelPayloadTests: XCTestCase {
    let envelope = Array(#"{"version":1}"#.utf8)

    func testOriginalComesBackByteForByteWhateverItsLineEndings() throws {
        let originals: [[UInt8]] = [
            Array("From: a@b.example\r\nSubject: crlf\r\n\r\nbody\r\n".utf8),
            Array("From: a@b.example\nSubject: lf only\n\nbody\n".utf8),
            Array("From: a@b.example\nSubject: no final newline\n\nbody".utf8),
            Array("From: a@b.example\r\nSubject: =?UTF-8?Q?f=C3=BCr?=\r\n folded\r\n\r\ntrailing spaces   \r\n\r\n\r\n".utf8),
            Array("From: a@b.example\r\nContent-Type: text/plain; charset=latin1\r\n\r\n".utf8) + [0xE4, 0xF6, 0xFC, 13, 10],
        ]
        for original in originals {
            let payload = try TunnelPayload.build(envelopeJSON: envelope, original: original, boundary: "b-123")
            let parsed = try TunnelPayload.parse(payload)
            XCTAssertEqual(parsed.original, original, String(decoding: original, as: UTF8.self))
            XCTAssertEqual(parsed.envelope, envelope)
        }
    }

    func testBoundaryInsideTheOriginalIsRefused() {
        XCTAssertThrowsError(try TunnelPayload.build(envelopeJSON: envelope, original: Array("x\r\n--b-1\r\n".utf8), boundary: "b-1"))
    }

    func testTunnelPayloadOfSeveralMegabytesKeepsTheOriginalExactly() throws {
        let original = Array("From: a@corp.example\r\nSubject: big\r\n\r\n".utf8)
            + Array(Data(SeededGenerator.bytes(2_500_000, seed: 6)).base64EncodedString(options: .lineLength76Characters).utf8) + [13, 10]
        let payload = try TunnelPayload.build(envelopeJSON: Array("{\"version\":1}".utf8), original: original, boundary: "spoolrun-test")
        let parsed = try TunnelPayload.parse(payload)
        XCTAssertEqual(parsed.original, original)
        XCTAssertEqual(parsed.envelope, Array("{\"version\":1}".utf8))
    }
}
