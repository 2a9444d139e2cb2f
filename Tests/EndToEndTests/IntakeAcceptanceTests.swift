// Tunnel messages made by three independent implementations (spoolrun wrap, the openssl
// CLI, Python's cryptography) are accepted, with RSA and with EC P-256 gateway keys.
import Foundation
import TestSupport
import XCTest

final class IntakeAcceptanceTests: XCTestCase {
    let factory = TunnelFactory.shared

    func testTunnelMadeBySpoolrunWrapIsAcceptedAndRecorded() throws {
        let inst = try TestInstallation()
        let tunnel = try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test", "--read-receipt"])
        try inst.deliver(tunnel, name: "1700000000.wrap.test")
        let run = try inst.sweep()
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertEqual(inst.names(in: "archive"), ["1700000000.wrap.test"])
        XCTAssertEqual(inst.names(in: "new"), [])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: inst.spool("archive").appending(path: "1700000000.wrap.test"))),
                       tunnel, "the archive keeps the tunnel file, still encrypted, unchanged")
        XCTAssertEqual(try inst.status()["accepted"] as? Int, 1)
    }

    func testWrapRefusesToGuessTheSenderFromAFromFieldWithSeveralAddresses() throws {
        let inst = try TestInstallation()
        for from in ["=?utf-8?q?Mallory_Bcc:_evil@attacker.test;?= <mallory@corp.test>",
                     "Alice <alice@corp.test>, Eve <eve@attacker.test>",
                     "Team: alice@corp.test, eve@attacker.test;"] {
            let original = Data("From: \(from)\r\nTo: bob@ext.test\r\nSubject: x\r\n\r\nbody\r\n".utf8)
            let r = try Shell.run(Paths.spoolrun, ["wrap", "--config", inst.gatewayConfig, "--to", "bob@ext.test"],
                                  stdin: original, timeout: 60)
            XCTAssertNotEqual(r.status, 0, from)
            XCTAssertTrue(r.err.contains("--from"), "the error says to give --from: \(r.err)")
            XCTAssertTrue(r.stdout.isEmpty, "no tunnel message is written")
            // With --from, the same original is wrapped.
            XCTAssertNoThrow(try inst.wrap(original, arguments: ["--to", "bob@ext.test", "--from", "alice@corp.test"]))
        }
    }

    func testWrapUsesAES256GCMAuthEnvelopedDataByDefault() throws {
        let inst = try TestInstallation()
        let bytes = try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test"])
        let tunnel = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(tunnel.contains("smime-type=authEnveloped-data"), tunnel.prefix(600).description)
        try inst.deliver(bytes, name: "gcm")
        let run = try inst.sweep()
        XCTAssertEqual(inst.names(in: "archive"), ["gcm"])
        XCTAssertTrue(run.err.contains("id-aes256-GCM"), run.err)
    }

    func testOpensslAndPythonMadeTunnelsAreAcceptedWithRSAGatewayKey() throws {
        try assertEveryMakerIsAccepted(gateway: "gw-rsa")
    }

    func testOpensslAndPythonMadeTunnelsAreAcceptedWithECP256GatewayKey() throws {
        try assertEveryMakerIsAccepted(gateway: "gw-ec")
    }

    func testRSAPSSSignatureIsAccepted() throws {
        let inst = try TestInstallation(gatewayCert: factory.cert("gw-rsa"))
        for maker in ["openssl", "python"] {
            let out = inst.scratch.file("pss-\(maker).eml")
            try factory.make(["--maker", maker, "--rsa-padding", "pss", "--encrypt", "aes256"]
                             + factory.signed(by: "gw-rsa", to: inst.tunnelCert, from: TestInstallation.senderAddress,
                                              to: TestInstallation.recipientAddress), out: out)
            try inst.deliver(file: out, name: "pss-\(maker)")
        }
        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertEqual(inst.names(in: "archive"), ["pss-openssl", "pss-python"], "failed: \(inst.names(in: "failed"))")
    }

    /// openssl: detached and opaque signatures, each encrypted with -aes256 and with
    /// -aes-256-gcm; Python: PKCS7SignatureBuilder detached and opaque, then
    /// PKCS7EnvelopeBuilder. All in one sweep; every one must land in the archive.
    private func assertEveryMakerIsAccepted(gateway: String) throws {
        let inst = try TestInstallation(gatewayCert: factory.cert(gateway))
        var variants: [(name: String, args: [String])] = []
        for sign in ["detached", "opaque"] {
            for cipher in ["aes256", "aes-256-gcm"] {
                variants.append(("openssl-\(sign)-\(cipher)", ["--maker", "openssl", "--sign", sign, "--encrypt", cipher]))
            }
            variants.append(("python-\(sign)-aes256", ["--maker", "python", "--sign", sign, "--encrypt", "aes256"]))
        }
        for v in variants {
            let out = inst.scratch.file(v.name)
            try factory.make(v.args + factory.signed(by: gateway, to: inst.tunnelCert, from: TestInstallation.senderAddress,
                                                     to: TestInstallation.recipientAddress), out: out)
            try inst.deliver(file: out, name: v.name)
        }
        let run = try inst.sweep()
        XCTAssertEqual(run.status, 0, run.err)
        for v in variants {
            XCTAssertTrue(inst.names(in: "archive").contains(v.name),
                          "\(v.name) was not accepted: \(inst.reasonCode(v.name) ?? "not in failed/") \(run.err)")
        }
        XCTAssertEqual(try inst.status()["accepted"] as? Int, variants.count)
    }
}
