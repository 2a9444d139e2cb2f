// What each kind of the portal's mail says and to whom (DESIGN §6), composed from the
// shipped templates and read back by Python's email package.
import Foundation
@testable import Spool
import TestSupport
import XCTest
@testable import Tunnel

final class MailComposerTests: XCTestCase {
    private var scratch: TemporaryDirectory!
    private var config: SpoolrunConfig!
    private var key: OutboxKey!

    override func setUpWithError() throws {
        scratch = try TemporaryDirectory()
        let inst = try Setup.run(SetupOptions(directory: scratch.file("inst")))
        config = try SpoolrunConfig.load(path: inst.config)
        key = try OutboxKey.loadOrCreate(path: config.outboxKey)
    }

    private var envelope: TunnelEnvelope {
        TunnelEnvelope(id: "env-composer-1", created: Date(), sender: "alice@corp.example", recipients: ["bob@ext.example"],
                       readReceipt: true, delivery: .webmail, expires: nil, passwords: [:])
    }

    private func text(_ entry: OutboxEntry) throws -> (raw: String, parsed: [String: Any]) {
        let bytes = try key.message(of: entry)
        let script = Paths.repo.appending(path: "Tests/Support/mail_check.py")
        let r = try Shell.check("python3", [script], stdin: Data(bytes), timeout: 60)
        let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertEqual(parsed["defects"] as? [String], [], "\(entry.kind) parses without defects")
        return (String(decoding: bytes, as: UTF8.self), parsed)
    }

    func testTheNotificationGoesToTheRecipientWithTheLinkAndTheSubjectOnlyWhenShowSubjectIsOn() throws {
        let composer = try MailComposer(config: config, key: key)
        let n = try composer.notification(envelope: envelope, recipient: "bob@ext.example", senderName: "Alice Example",
                                          senderAddress: "alice@corp.example", subject: "Merger MARKER-S1", firstContact: false,
                                          now: Date())
        XCTAssertEqual(n.recipient, "bob@ext.example")
        XCTAssertEqual(n.mailFrom, config.mailFrom)
        let (raw, parsed) = try text(n)
        XCTAssertFalse(raw.contains("MARKER-S1"), "no subject unless portal.show_subject")
        XCTAssertTrue(raw.contains(config.portalURL))
        XCTAssertTrue(raw.contains("Alice Example"))
        XCTAssertEqual((parsed["recipients"] as? [String: [String]])?["to"], ["bob@ext.example"])

        var shown = config!
        shown.showSubject = true
        let with = try MailComposer(config: shown, key: key).notification(
            envelope: envelope, recipient: "bob@ext.example", senderName: nil, senderAddress: "alice@corp.example",
            subject: "Merger MARKER-S1", firstContact: false, now: Date())
        let subject = (try text(with).parsed["headers"] as? [[String]])?.first { $0[0] == "Subject" }?[1] ?? ""
        XCTAssertTrue(subject.contains("Merger MARKER-S1"), subject)
    }

    func testTheNotificationAndTheOTPMailNameTheEnvelopesSenderNotAnotherFromAddress() throws {
        let composer = try MailComposer(config: config, key: key)
        func shown(_ name: String?, _ from: String) throws -> [String] {
            let n = try composer.notification(envelope: envelope, recipient: "bob@ext.example", senderName: name,
                                              senderAddress: from, subject: nil, firstContact: false, now: Date())
            let o = try composer.otpPDF(envelope: envelope, recipient: "bob@ext.example", senderName: name, senderAddress: from,
                                        subject: nil, passwordID: "PID-1", pdf: Array("%PDF-1.7".utf8), filename: "m.pdf", now: Date())
            return try [n, o].map { entry in
                let parsed = try text(entry).parsed
                let subject = (parsed["headers"] as? [[String]])?.first { $0[0] == "Subject" }?[1] ?? ""
                return ([subject] + ((parsed["texts"] as? [String: String]) ?? [:]).values.sorted()).joined(separator: "\n")
            }
        }
        for mail in try shown("Alice Example", "Alice@Corp.Example") {
            XCTAssertTrue(mail.contains("Alice Example <alice@corp.example>"), "same address: the name with the envelope's sender\n\(mail)")
        }
        for mail in try shown("The CEO", "ceo@corp.example") {
            XCTAssertTrue(mail.contains("alice@corp.example"), mail)
            XCTAssertFalse(mail.contains("ceo@corp.example") || mail.contains("The CEO"),
                           "another From is the original's word alone: neither its address nor its name is shown\n\(mail)")
        }
    }

    func testThePasswordNoticeGoesToTheEnvelopesSenderOnlyAndCarriesThePassword() throws {
        let n = try MailComposer(config: config, key: key).passwordNotice(envelope: envelope, recipient: "bob@ext.example",
                                                                          password: "abcde-fghij-kmnpq-rstuv", now: Date())
        XCTAssertEqual(n.kind, .passwordNotice)
        XCTAssertEqual(n.recipient, "alice@corp.example")
        let (raw, parsed) = try text(n)
        XCTAssertEqual((parsed["recipients"] as? [String: [String]])?["to"], ["alice@corp.example"])
        XCTAssertTrue(raw.contains("abcde-fghij-kmnpq-rstuv"))
        XCTAssertTrue(raw.contains("bob@ext.example"), "it names the recipient")
    }

    func testTheOTPMailCarriesThePDFAndItsPasswordIDButNeverThePassword() throws {
        let pdf = Array("%PDF-1.7 test".utf8)
        let n = try MailComposer(config: config, key: key).otpPDF(
            envelope: envelope, recipient: "bob@ext.example", senderName: "Alice", senderAddress: "alice@corp.example",
            subject: nil, passwordID: "PID-42", pdf: pdf, filename: "message.pdf", now: Date())
        let (raw, parsed) = try text(n)
        XCTAssertTrue(raw.contains("PID-42"))
        let attachments = parsed["attachments"] as? [[String: Any]] ?? []
        XCTAssertEqual(attachments.first?["filename"] as? String, "message.pdf")
        XCTAssertEqual(attachments.first?["hex_prefix"] as? String, pdf.map { String(format: "%02x", $0) }.joined())
    }

    func testTheReadReceiptAnswersTheOriginalMessage() throws {
        let c = ReceiptContext(envelopeID: "env-composer-1", sender: "alice@corp.example", recipient: "bob@ext.example",
                               subject: "Figures", originalMessageID: "orig-9@corp.example", sent: Date())
        let n = try MailComposer(config: config, key: key).readReceipt(c, readAt: Date(), now: Date())
        XCTAssertEqual(n.recipient, "alice@corp.example")
        let parsed = try text(n).parsed
        let mdn = try XCTUnwrap(parsed["mdn"] as? [String: String])
        XCTAssertEqual(mdn["Original-Message-ID"], "<orig-9@corp.example>")
        XCTAssertEqual(mdn["Final-Recipient"], "rfc822;bob@ext.example")
        XCTAssertEqual(n.uid, OutboxEntry.uid(.readReceipt, cause: "env-composer-1", recipient: "bob@ext.example"))
    }
}
