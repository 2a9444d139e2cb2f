// Splitting multipart/signed: the signed part is cut exactly, and the line break before the
// next delimiter belongs to the delimiter (RFC 2046 §5.1.1), whatever the line endings.
import Foundation
import Mail
@testable import Tunnel
import XCTest

final class SignedEntityTests: XCTestCase {
    let signature = "MIIBAgYJKoZIhvcNAQcCoIH0MIHxAgEBMQ0wCwYJYIZIAWUDBAIBMAsGCSqGSIb3DQEHAQ=="

    func entity(eol: String, contentEOL: String, beforeDelimiter: String) -> [UInt8] {
        let content = "Content-Type: text/plain\(contentEOL)\(contentEOL)line one\(contentEOL)line two\(contentEOL)"
        let text = "MIME-Version: 1.0\(eol)Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
            + "micalg=\"sha-256\"; boundary=\"----B\"\(eol)\(eol)This is an S/MIME signed message\(eol)\(eol)"
            + "------B\(eol)\(content)\(beforeDelimiter)------B\(eol)"
            + "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\(eol)Content-Transfer-Encoding: base64\(eol)\(eol)"
            + "\(signature)\(eol)\(eol)------B--\(eol)"
        return Array(text.utf8)
    }

    func testDetachedContentIsCutExactlyForOpensslStyleLFDelimiters() throws {
        // openssl -binary: the content keeps its own CRLF; its own lines use LF.
        let e = try SignedEntity.parse(entity(eol: "\n", contentEOL: "\r\n", beforeDelimiter: "\n"))
        XCTAssertEqual(e.detachedContent, Array("Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n".utf8))
    }

    func testDetachedContentIsCutExactlyForCRLFDelimiters() throws {
        // Python's cryptography writes CRLF everywhere.
        let e = try SignedEntity.parse(entity(eol: "\r\n", contentEOL: "\r\n", beforeDelimiter: "\r\n"))
        XCTAssertEqual(e.detachedContent, Array("Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n".utf8))
    }

    func testLFOnlyContentIsKeptAsLF() throws {
        let e = try SignedEntity.parse(entity(eol: "\n", contentEOL: "\n", beforeDelimiter: "\n"))
        XCTAssertEqual(e.detachedContent, Array("Content-Type: text/plain\n\nline one\nline two\n".utf8))
    }

    func testSignaturePartIsDecodedFromBase64() throws {
        let e = try SignedEntity.parse(entity(eol: "\r\n", contentEOL: "\r\n", beforeDelimiter: "\r\n"))
        XCTAssertEqual(e.signature, Array(Data(base64Encoded: signature)!))
    }

    func testOpaqueSignedDataHasNoDetachedContent() throws {
        let text = "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\n"
            + "Content-Transfer-Encoding: base64\r\n\r\n\(signature)\r\n"
        let e = try SignedEntity.parse(Array(text.utf8))
        XCTAssertNil(e.detachedContent)
        XCTAssertEqual(e.signature, Array(Data(base64Encoded: signature)!))
    }

    func testUnsignedContentIsRefused() {
        XCTAssertThrowsError(try SignedEntity.parse(Array("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n".utf8)))
        XCTAssertThrowsError(try SignedEntity.parse(Array("Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nAAAA\r\n".utf8)))
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
}
