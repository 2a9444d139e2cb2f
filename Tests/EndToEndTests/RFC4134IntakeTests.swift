// The RFC 4134 enveloped samples use legacy ciphers (3DES, RC2): delivered as tunnel
// messages they are refused with weak-algorithm.
import Foundation
import TestSupport
import XCTest

final class RFC4134IntakeTests: XCTestCase {
    func testRFC4134LegacyEnvelopedSamplesAreRefusedAsWeakAlgorithm() throws {
        let inst = try TestInstallation()
        let dir = Paths.corpus.appending(path: "smime/rfc4134")
        let head = "From: \(TestInstallation.senderAddress)\r\nTo: \(TestInstallation.recipientAddress)\r\nSubject: sample\r\n"
        for sample in ["5.1.bin", "5.2.bin"] {
            let der = try Data(contentsOf: URL(fileURLWithPath: dir.appending(path: sample)))
            let message = head + "MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
                + "Content-Transfer-Encoding: base64\r\n\r\n" + der.base64EncodedString(options: .lineLength76Characters) + "\r\n"
            try inst.deliver(Data(message.utf8), name: "rfc4134-\(sample)")
        }
        // 5.3.eml is a complete S/MIME message: only its From and To are replaced.
        let eml = try String(contentsOfFile: dir.appending(path: "5.3.eml"), encoding: .utf8)
        let body = eml.components(separatedBy: "\n").filter { !$0.hasPrefix("From:") && !$0.hasPrefix("To:") }
        try inst.deliver(Data((head + body.joined(separator: "\n")).utf8), name: "rfc4134-5.3.eml")

        XCTAssertEqual(try inst.sweep().status, 0)
        for name in ["rfc4134-5.1.bin", "rfc4134-5.2.bin", "rfc4134-5.3.eml"] {
            XCTAssertEqual(inst.reasonCode(name), "weak-algorithm", name)
        }
    }
}
