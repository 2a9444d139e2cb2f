// The tunnel's cipher policy against the published samples of RFC 4134 (../shared/corpus/smime).
import Crypto
import Foundation
import TestSupport
import Tunnel
import XCTest

final class RFC4134TunnelPolicyTests: XCTestCase {
    let dir = Paths.corpus.appending(path: "smime/rfc4134")

    func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.appending(path: name))))
    }

    func testSample5_3IsRefusedByTheTunnelPolicyBeforeDecryption() throws {
        // The tunnel opener judges the 3DES cipher before it touches the key.
        let key = try PrivateKey(bytes: try bytes("BobPrivRSAEncrypt.pri"))
        let cert = try Certificate(bytes: try bytes("BobRSASignByCarl.cer"))
        let opener = TunnelOpener(keyPairs: [TunnelKeyPair(key: key, certificate: cert)], pinned: [cert])
        for sample in ["5.1.bin", "5.2.bin"] {
            switch opener.decrypt(der: try bytes(sample)) {
            case .success: XCTFail("\(sample) must not open")
            case .failure(let r): XCTAssertEqual(r.failure, .weakAlgorithm, "\(sample): \(r)")
            }
        }
    }
}
