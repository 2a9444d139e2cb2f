// The CMS code path against the published samples of RFC 4134 (../shared/corpus/smime).
import Crypto
import Foundation
import TestSupport
import XCTest

final class RFC4134Tests: XCTestCase {
    let dir = Paths.corpus.appending(path: "smime/rfc4134")

    func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.appending(path: name))))
    }

    func testSample5_3DecryptsWithBobsKeyToExContent() throws {
        let key = try PrivateKey(bytes: try bytes("BobPrivRSAEncrypt.pri"))
        let cert = try Certificate(bytes: try bytes("BobRSASignByCarl.cer"))
        let plain = try CMSDecryptor.decrypt(smime: try bytes("5.3.eml"), key: key, certificate: cert)
        XCTAssertEqual(plain, try bytes("ExContent.bin"))
        XCTAssertEqual(String(decoding: plain, as: UTF8.self), "This is some sample content.")
    }
}
