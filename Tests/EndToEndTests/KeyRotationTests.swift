// Tunnel key rotation (issue 6): `spoolrun setup --rotate` adds a new tunnel-recipient pair
// next to the old one; mail encrypted to either is accepted, new mail goes to the new one,
// and once the old pair is dropped only mail to the new one opens.
import Foundation
import TestSupport
import XCTest

final class KeyRotationTests: XCTestCase {
    func testAfterRotationMailToTheOldAndTheNewKeyIsAcceptedAndNewMailUsesTheNewKey() throws {
        let inst = try TestInstallation()
        let pw = ["--to", "bob@ext.test", "--password", "bob@ext.test=pw-bob-rotate"]
        let beforeA = try inst.wrap(TestInstallation.sampleOriginal, arguments: pw)
        let beforeB = try inst.wrap(TestInstallation.sampleOriginal, arguments: pw)

        let rotated = try Shell.run(Paths.spoolrun, ["setup", "--rotate", "--dir", inst.root])
        XCTAssertEqual(rotated.status, 0, rotated.err)
        let config = try String(contentsOfFile: inst.config, encoding: .utf8)
        let line = try XCTUnwrap(config.split(separator: "\n").first { $0.hasPrefix("recipient_keys = [") })
        XCTAssertEqual(line.components(separatedBy: "key = ").count - 1, 2, "two pairs listed: \(line)")
        let newKey = try XCTUnwrap(line.firstMatch(of: /key = "(keys\/tunnel-recipient-\d+\.key)"/).map { String($0.1) })
        let mode = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: inst.root.appending(path: newKey))[.posixPermissions] as? NSNumber)
        XCTAssertEqual(mode.intValue, 0o600, "the new private key is 0600")
        let after = try inst.wrap(TestInstallation.sampleOriginal, arguments: pw)

        try inst.deliver(beforeA, name: "before-a")
        try inst.deliver(after, name: "after")
        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertEqual(Set(inst.names(in: "archive")), ["before-a", "after"], "mail to either key is accepted: \(inst.names(in: "failed"))")

        // The old pair dropped: mail still encrypted to it no longer opens; new mail does.
        let dropped = try String(contentsOfFile: inst.config, encoding: .utf8)
            .replacingOccurrences(of: ", { key = \"keys/tunnel-recipient.key\", cert = \"keys/tunnel-recipient.crt\" }", with: "")
        XCTAssertNotEqual(dropped, try String(contentsOfFile: inst.config, encoding: .utf8))
        try dropped.write(toFile: inst.config, atomically: true, encoding: .utf8)
        try inst.deliver(beforeB, name: "before-b")
        try inst.deliver(try inst.wrap(TestInstallation.sampleOriginal, arguments: pw), name: "after-2")
        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertTrue(inst.names(in: "archive").contains("after-2"))
        XCTAssertEqual(inst.reasonCode("before-b"), "decrypt-failed", "only the old key opened that one")
    }

    func testRotationUpdatesTheGatewayFolderBesideTheInstallationOrNamesTheCertificateWhenItIsGone() throws {
        let inst = try TestInstallation()
        let gatewayCopy = inst.gateway.appending(path: "tunnel-recipient.crt")
        let before = try Data(contentsOf: URL(fileURLWithPath: gatewayCopy))
        let first = try Shell.run(Paths.spoolrun, ["setup", "--rotate", "--dir", inst.root])
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: gatewayCopy)), before, "the gateway folder's copy is the new certificate")
        XCTAssertTrue(first.out.contains(gatewayCopy), first.out)

        // Carried to the gateway and deleted here: the new certificate is named instead, and
        // no gateway folder is made inside the installation.
        try FileManager.default.removeItem(atPath: inst.gateway)
        usleep(1_100_000)  // a rotation's files are named by the second
        let second = try Shell.run(Paths.spoolrun, ["setup", "--rotate", "--dir", inst.root])
        XCTAssertEqual(second.status, 0, second.err)
        let newCert = try XCTUnwrap(second.out.firstMatch(of: /(\/\S+\/keys\/tunnel-recipient-\d+\.crt) is the new/).map { String($0.1) },
                                    second.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: newCert))
        XCTAssertFalse(FileManager.default.fileExists(atPath: inst.gateway))
        XCTAssertFalse(FileManager.default.fileExists(atPath: inst.root.appending(path: "gateway")))
    }
}
