// The sweep in-process: what it records in the state store for an accepted message.
import Crypto
import Foundation
import Logging
@testable import Spool
import TestSupport
import XCTest
@testable import Tunnel

final class SweepRecordTests: XCTestCase {
    func testAcceptedMessageIsRecordedWithIdDigestSenderRecipientsDeliveryAndTimes() throws {
        let dir = try TemporaryDirectory()
        var options = SetupOptions(directory: dir.file("inst"))
        options.recipientAddress = "webmail@portal.example"
        options.senderAddress = "webmail-sender@gateway.example"
        let inst = try Setup.run(options)
        let config = try SpoolrunConfig.load(path: inst.config)
        var wrap = WrapOptions(recipients: ["Bob@Ext.Example", "carol@ext.example"])
        wrap.readReceipt = true
        wrap.otpPDF = true
        let original = Array("From: Alice <alice@corp.example>\r\nTo: bob@ext.example\r\nSubject: x\r\n\r\nbody\r\n".utf8)
        let tunnel = try Wrapper.wrap(original, config: try GatewayConfig.load(path: inst.gatewayConfig), options: wrap)
        try FileSystem.writeAtomically(tunnel, to: config.spool + "/new/1800000000.test")

        let before = Date()
        let summary = try Sweep(config: config, logger: Logger(label: "test")).run()
        XCTAssertEqual(summary.accepted, 1)

        let store = try StateStore(directory: config.state)
        let known = try store.known(spoolNames: ["1800000000.test"])
        let record = try XCTUnwrap(known.accepted[StateStore.key("1800000000.test", SHA256.hex(tunnel))])
        XCTAssertEqual(try store.message(envelopeID: record.envelopeID), record)
        XCTAssertEqual(record.sender, "alice@corp.example")
        XCTAssertEqual(record.recipients, ["bob@ext.example", "carol@ext.example"])
        XCTAssertEqual(record.delivery, "otp-pdf")
        XCTAssertTrue(record.readReceipt)
        XCTAssertEqual(record.digest, SHA256.hex(tunnel))
        XCTAssertEqual(record.archiveName, "1800000000.test")
        XCTAssertEqual(record.size, tunnel.count)
        XCTAssertEqual(record.cipher, "id-aes256-GCM")
        XCTAssertEqual(record.signer, try Certificate(contentsOf: inst.path("keys/gateway-sender.crt")).fingerprint)
        XCTAssertLessThan(abs(record.created.timeIntervalSince(before)), 60)
        XCTAssertGreaterThanOrEqual(record.receivedAt.timeIntervalSince1970, before.timeIntervalSince1970 - 1)
    }

    func testSweepsAreSerialisedByTheLock() throws {
        let dir = try TemporaryDirectory()
        let held = try XCTUnwrap(try SweepLock.tryAcquire(stateDirectory: dir.path))
        XCTAssertNil(try SweepLock.tryAcquire(stateDirectory: dir.path), "a second holder is refused at once")
        withExtendedLifetime(held) {}
    }
}

final class IntakeOriginalTests: XCTestCase {
    func testIntakeYieldsTheOriginalMessageByteForByte() throws {
        let dir = try TemporaryDirectory()
        let inst = try Setup.run(SetupOptions(directory: dir.file("inst")))
        let config = try SpoolrunConfig.load(path: inst.config)
        let original = Array("From: Alice <alice@corp.example>\nTo: bob@ext.example\nSubject: lf only\n\nbody line   \n\n".utf8)
        let tunnel = try Wrapper.wrap(original, config: try GatewayConfig.load(path: inst.gatewayConfig),
                                      options: WrapOptions(recipients: ["bob@ext.example"]))
        let intake = Intake(config: config, opener: try KeyFiles.tunnelOpener(for: config))
        let accepted = try intake.check(tunnel, now: Date()).get()
        XCTAssertEqual(accepted.original, original)
        XCTAssertEqual(accepted.envelope.recipients, ["bob@ext.example"])
    }
}
