// Every way a tunnel file can be wrong ends in spool/failed with its exact reason code,
// the file byte-identical. One installation and one sweep serve all the cases; each test
// checks one rule. The installation pins two gateway certificates: a self-signed one
// (gw-rsa) and one issued by a CA (gw-ca), so that both attacker kinds can be tried.
import Foundation
import TestSupport
import XCTest

final class IntakeRejectionTests: XCTestCase {
    struct Fixture {
        let inst: TestInstallation
        /// name -> bytes as delivered
        let delivered: [String: Data]
        let firstSweep: ProcessResult
    }

    nonisolated(unsafe) static var fixture: Fixture?
    static let sender = TestInstallation.senderAddress
    static let recipient = TestInstallation.recipientAddress
    /// First-contact passwords in envelopes (issue 15): two under the floor, one above.
    static let shortPassword = "Tiny-pw-77", commonPassword = "Password-1234", strongPassword = "tulip-river-48-anchor"

    static func prepare() throws -> Fixture {
        if let f = fixture { return f }
        let factory = TunnelFactory.shared
        let inst = try TestInstallation(gatewayCert: factory.cert("gw-rsa"))
        try inst.setConfig("gateway_certs", "[\"keys/gateway-sender.crt\", \"\(factory.cert("gw-ca"))\"]")
        try inst.setConfig("max_message_mb", "1")
        var delivered: [String: Data] = [:]

        func make(_ name: String, signer: String = "gw-rsa", recipientCert: String? = nil, from: String = sender,
                  to: String = recipient, _ extra: [String]) throws {
            let out = inst.scratch.file(name)
            try factory.make(extra + ["--signer-key", factory.key(signer), "--signer-cert", factory.cert(signer),
                                      "--recipient-cert", recipientCert ?? inst.tunnelCert, "--from", from, "--to", to],
                             out: out)
            let data = try Data(contentsOf: URL(fileURLWithPath: out))
            delivered[name] = data
            try inst.deliver(data, name: name)
        }
        func raw(_ name: String, _ data: Data) throws {
            delivered[name] = data
            try inst.deliver(data, name: name)
        }

        try make("signed-not-encrypted", ["--encrypt", "none"])
        try raw("plain-text", Data("From: \(sender)\r\nTo: \(recipient)\r\nSubject: hi\r\n\r\nhello\r\n".utf8))
        try make("other-recipient", recipientCert: factory.cert("other-recipient"), [])
        try make("not-signed", ["--sign", "none"])
        try make("attacker-same-subject", signer: "attacker", [])
        try make("same-ca-other-cert", signer: "other-ca", [])
        try make("same-ca-tls-cert", signer: "tls-ca", [])
        try make("tampered-detached", ["--tamper", "--sign", "detached"])
        try make("tampered-opaque", ["--tamper", "--sign", "opaque"])
        try make("des3", ["--encrypt", "des3"])
        try make("rc2", ["--encrypt", "rc2"])
        try make("sha1", ["--digest", "sha1"])
        try make("replay-first", ["--id", "replayed-id-0001"])
        try make("replay-second", ["--id", "replayed-id-0001"])
        try make("too-old", ["--created-offset-seconds", "\(-8 * 86_400)"])
        try make("in-future", ["--created-offset-seconds", "3600"])
        try make("already-expired", ["--expires", "2020-01-01T00:00:00Z"])
        try make("no-envelope", ["--no-envelope"])
        let notJSON = inst.scratch.file("not-json.txt")
        try Data("this is not { json".utf8).write(to: URL(fileURLWithPath: notJSON))
        try make("envelope-not-json", ["--envelope-raw", notJSON])
        let missing = inst.scratch.file("missing.json")
        try Data(#"{"version":1,"id":"missing-fields-01","created":"2026-01-01T00:00:00Z"}"#.utf8)
            .write(to: URL(fileURLWithPath: missing))
        try make("envelope-missing-fields", ["--envelope-raw", missing])
        try make("envelope-bad-recipient", ["--recipient", "not-an-address"])
        try make("envelope-bad-sender", ["--sender", "alice at corp"])
        try make("envelope-short-password", ["--password", "bob@ext.test=\(shortPassword)"])
        try make("envelope-common-password", ["--password", "bob@ext.test=\(commonPassword)"])
        try make("envelope-strong-password", ["--password", "bob@ext.test=\(strongPassword)"])
        try make("outer-from-wrong", from: "intruder@evil.test", [])
        try make("outer-to-wrong", to: "someone@portal.test", [])
        var rng = SeededGenerator(seed: 4134)
        try raw("garbage", Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        try raw("empty", Data())

        // Over the limit (1 MB here): a sparse 8 GiB file. Reading it would take minutes
        // and gigabytes, so a quick sweep shows the size is checked before any read.
        let big = inst.spool("tmp").appending(path: "too-large")
        FileManager.default.createFile(atPath: big, contents: Data("From: x\r\n".utf8))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        try handle.truncate(atOffset: 8 << 30)
        try handle.close()
        XCTAssertEqual(rename(big, inst.spool("new").appending(path: "too-large")), 0)

        let run = try inst.sweep(timeout: 60)
        let f = Fixture(inst: inst, delivered: delivered, firstSweep: run)
        fixture = f
        return f
    }

    private func assertRejected(_ name: String, as code: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try Self.prepare()
        XCTAssertEqual(f.firstSweep.status, 0, "a sweep with bad input still completes: \(f.firstSweep.err)", file: file, line: line)
        XCTAssertEqual(f.inst.reasonCode(name), code, "reason for \(name)", file: file, line: line)
        XCTAssertFalse(f.inst.names(in: "new").contains(name), "\(name) left spool/new", file: file, line: line)
        XCTAssertFalse(f.inst.names(in: "archive").contains(name), "\(name) must not be archived", file: file, line: line)
        if let original = f.delivered[name] {
            let kept = try Data(contentsOf: URL(fileURLWithPath: f.inst.spool("failed").appending(path: name)))
            XCTAssertEqual(kept, original, "\(name) is kept byte-identical in spool/failed", file: file, line: line)
        }
        let reason = try String(contentsOfFile: f.inst.spool("failed").appending(path: name + ".reason"), encoding: .utf8)
        let lines = reason.split(separator: "\n")
        XCTAssertGreaterThanOrEqual(lines.count, 2, "the reason file has a sentence after the code", file: file, line: line)
    }

    func testUnencryptedSignedMessageIsRejectedAsNotEncrypted() throws { try assertRejected("signed-not-encrypted", as: "not-encrypted") }
    func testPlainTextMessageIsRejectedAsNotEncrypted() throws { try assertRejected("plain-text", as: "not-encrypted") }
    func testMessageEncryptedToAnotherCertificateIsRejectedAsDecryptFailed() throws { try assertRejected("other-recipient", as: "decrypt-failed") }
    func testEncryptedButUnsignedMessageIsRejectedAsNotSigned() throws { try assertRejected("not-signed", as: "not-signed") }
    func testUnpinnedKeyWithThePinnedSubjectIsRejectedAsSignerNotTrusted() throws { try assertRejected("attacker-same-subject", as: "signer-not-trusted") }
    func testAnotherCertificateFromThePinnedCertificatesCAIsRejected() throws { try assertRejected("same-ca-other-cert", as: "signer-not-trusted") }
    func testTLSOnlyCertificateFromThePinnedCertificatesCAIsRejected() throws { try assertRejected("same-ca-tls-cert", as: "signer-not-trusted") }
    func testContentTamperedAfterDetachedSigningIsRejectedAsSignatureInvalid() throws { try assertRejected("tampered-detached", as: "signature-invalid") }
    func testContentTamperedAfterOpaqueSigningIsRejectedAsSignatureInvalid() throws { try assertRejected("tampered-opaque", as: "signature-invalid") }
    func test3DESContentEncryptionIsRejectedAsWeakAlgorithm() throws { try assertRejected("des3", as: "weak-algorithm") }
    func testRC2ContentEncryptionIsRejectedAsWeakAlgorithm() throws { try assertRejected("rc2", as: "weak-algorithm") }
    func testSHA1SignatureIsRejectedAsWeakAlgorithm() throws { try assertRejected("sha1", as: "weak-algorithm") }
    func testEnvelopeCreatedLongerAgoThanMaxAgeIsRejectedAsExpired() throws { try assertRejected("too-old", as: "expired") }
    func testEnvelopeCreatedInTheFutureIsRejectedAsExpired() throws { try assertRejected("in-future", as: "expired") }
    func testEnvelopePastItsExpiryIsRejectedAsExpired() throws { try assertRejected("already-expired", as: "expired") }
    func testMissingEnvelopeIsRejectedAsMalformedEnvelope() throws { try assertRejected("no-envelope", as: "malformed-envelope") }
    func testEnvelopeThatIsNotJSONIsRejectedAsMalformedEnvelope() throws { try assertRejected("envelope-not-json", as: "malformed-envelope") }
    func testEnvelopeMissingFieldsIsRejectedAsMalformedEnvelope() throws { try assertRejected("envelope-missing-fields", as: "malformed-envelope") }
    func testEnvelopeWithABadRecipientAddressIsRejectedAsMalformedEnvelope() throws { try assertRejected("envelope-bad-recipient", as: "malformed-envelope") }
    func testEnvelopeWithABadSenderAddressIsRejectedAsMalformedEnvelope() throws { try assertRejected("envelope-bad-sender", as: "malformed-envelope") }
    func testEnvelopePasswordUnder12CharactersIsRejectedAsMalformedEnvelopeNamingTheAddress() throws {
        try assertRejected("envelope-short-password", as: "malformed-envelope")
        try assertReasonNamesBobNeverThePassword("envelope-short-password", Self.shortPassword,
                                                 why: "is too short (10 characters, at least 12)")
    }
    func testCommonEnvelopePasswordIsRejectedAsMalformedEnvelopeNamingTheAddress() throws {
        try assertRejected("envelope-common-password", as: "malformed-envelope")
        try assertReasonNamesBobNeverThePassword("envelope-common-password", Self.commonPassword, why: "is a common password")
    }
    func testEnvelopeWithAStrongPasswordIsAccepted() throws {
        let f = try Self.prepare()
        XCTAssertTrue(f.inst.names(in: "archive").contains("envelope-strong-password"), f.inst.names(in: "failed").joined(separator: " "))
        XCTAssertFalse(f.inst.names(in: "failed").contains("envelope-strong-password"))
    }

    private func assertReasonNamesBobNeverThePassword(_ name: String, _ password: String, why: String,
                                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try Self.prepare()
        let reason = try String(contentsOfFile: f.inst.spool("failed").appending(path: name + ".reason"), encoding: .utf8)
        XCTAssertTrue(reason.contains("password for bob@ext.test that \(why)"), reason, file: file, line: line)
        for text in [reason, f.firstSweep.err, f.firstSweep.out] {
            XCTAssertFalse(text.contains(password), "the password is in neither the reason nor the log", file: file, line: line)
        }
    }

    func testOuterFromOtherThanTheWebmailSenderIsRejectedAsWrongAddress() throws { try assertRejected("outer-from-wrong", as: "wrong-address") }
    func testOuterToWithoutTheWebmailRecipientIsRejectedAsWrongAddress() throws { try assertRejected("outer-to-wrong", as: "wrong-address") }
    func testGarbageBytesAreRejectedAsMalformedMIME() throws { try assertRejected("garbage", as: "malformed-mime") }
    func testEmptyFileIsRejectedAsMalformedMIME() throws { try assertRejected("empty", as: "malformed-mime") }

    func testFileOverTheSizeLimitIsRejectedBeforeItIsRead() throws {
        try assertRejected("too-large", as: "too-large")
        var st = stat()
        XCTAssertEqual(stat(try Self.prepare().inst.spool("failed").appending(path: "too-large"), &st), 0)
        XCTAssertEqual(st.st_size, 8 << 30, "the file is moved, not copied or truncated")
    }

    func testReplayedEnvelopeIDInTheSameBatchIsRejectedAsReplay() throws {
        let f = try Self.prepare()
        XCTAssertTrue(f.inst.names(in: "archive").contains("replay-first"), "the first copy is accepted")
        try assertRejected("replay-second", as: "replay")
    }

    func testReplayedEnvelopeIDInALaterSweepIsRejectedAsReplay() throws {
        let f = try Self.prepare()
        let factory = TunnelFactory.shared
        let out = f.inst.scratch.file("replay-later")
        try factory.make(["--id", "replayed-id-0001"] + factory.signed(by: "gw-rsa", to: f.inst.tunnelCert,
                                                                       from: Self.sender, to: Self.recipient), out: out)
        try f.inst.deliver(file: out, name: "replay-later")
        XCTAssertEqual(try f.inst.sweep().status, 0)
        XCTAssertEqual(f.inst.reasonCode("replay-later"), "replay")
    }

    func testOnlyTheValidMessageOfTheBadBatchIsArchived() throws {
        let f = try Self.prepare()
        XCTAssertTrue(f.inst.names(in: "archive").contains("replay-first"))
        XCTAssertEqual(f.inst.names(in: "new"), [], "every file of the batch was decided")
    }
}
