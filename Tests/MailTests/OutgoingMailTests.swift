// MIME out (DESIGN §6): what GMime writes for the portal's own mail, read back by an
// independent parser (Python's email package under policy.strict, Tests/Support/mail_check.py).
import Foundation
@testable import Mail
import TestSupport
import XCTest

final class OutgoingMailTests: XCTestCase {
    static let date = Date(timeIntervalSince1970: 1_795_000_000)

    /// Python's reading of `bytes`: defects, headers, MIME tree, texts, MDN fields.
    static func pythonReading(_ bytes: [UInt8]) throws -> [String: Any] {
        let script = Paths.repo.appending(path: "Tests/Support/mail_check.py")
        let r = try Shell.check("python3", [script], stdin: Data(bytes), timeout: 60)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
    }

    static func headers(_ reading: [String: Any]) -> [(String, String)] {
        ((reading["headers"] as? [[String]]) ?? []).map { ($0[0], $0[1]) }
    }

    static func mail(_ body: OutgoingMail.Body, from: MailAddress = MailAddress(name: "Portal", address: "portal@corp.example"),
                     to: [MailAddress] = [MailAddress(name: "Bob", address: "bob@ext.example")],
                     subject: String = "A message is waiting") -> OutgoingMail {
        OutgoingMail(from: from, to: to, subject: subject, date: date, body: body)
    }

    func testEveryKindOfOutgoingMailParsesWithoutAnyDefectUnderPythonsStrictPolicy() throws {
        let kinds: [(String, OutgoingMail.Body, [String])] = [
            ("text", .text("Hello Bob,\nyour password is below.\n"), ["text/plain"]),
            ("alternative", .alternative(text: "Hello\n", html: "<p>Hello</p>\n"),
             ["multipart/alternative", "text/plain", "text/html"]),
            ("attachment", .withAttachment(text: "See the PDF.\n", html: "<p>See the PDF.</p>",
                                           attachment: .init(filename: "message.pdf", mediaType: "application/pdf",
                                                             data: Array("%PDF-1.7\n".utf8) + (0..<255).map { UInt8($0) })),
             ["multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf"]),
            ("mdn", .dispositionNotification(text: "Your message was displayed.\n",
                                             report: .init(reportingUA: "portal.example; spoolrun", originalRecipient: "bob@ext.example",
                                                           finalRecipient: "bob@ext.example", originalMessageID: "abc@corp.example")),
             ["multipart/report", "text/plain", "message/disposition-notification"]),
        ]
        for (name, body, tree) in kinds {
            let bytes = try Self.mail(body).rfc5322()
            let reading = try Self.pythonReading(bytes)
            XCTAssertEqual(reading["defects"] as? [String], [], "\(name): \(String(decoding: bytes, as: UTF8.self))")
            XCTAssertEqual(reading["tree"] as? [String], tree, name)
            let names = Set(Self.headers(reading).map { $0.0.lowercased() })
            for required in ["from", "to", "subject", "date", "message-id", "mime-version", "auto-submitted"] {
                XCTAssertTrue(names.contains(required), "\(name) lacks \(required)")
            }
            XCTAssertEqual(Self.headers(reading).first { $0.0.lowercased() == "auto-submitted" }?.1, "auto-generated")
        }
    }

    func testALargeAttachmentIsWrittenWhole4MBByteForByteAndTheMessageIsTheSameEachTime() throws {
        // The attachment is lent to GMime and the message written into an array of its exact
        // size (MailWriter): what comes out must be what a plain write gives, byte for byte.
        var rng = SeededGenerator(seed: 4)
        let data = (0..<4_000_003).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var mail = Self.mail(.withAttachment(text: "See the PDF.\n", html: nil,
                                             attachment: .init(filename: "big.pdf", mediaType: "application/pdf", data: data)))
        mail.messageID = "fixed@corp.example"
        let bytes = try mail.rfc5322()
        XCTAssertEqual(bytes.count, try mail.rfc5322().count, "the same mail has the same length each time")
        let parsed = try MessageParser.parse(bytes)
        XCTAssertEqual(parsed.attachments.count, 1)
        XCTAssertEqual(parsed.attachments.first?.filename, "big.pdf")
        XCTAssertTrue(parsed.attachments.first?.data == data, "the attachment decodes to its bytes exactly")
        XCTAssertEqual(parsed.textBody?.trimmingCharacters(in: .whitespacesAndNewlines), "See the PDF.")
        XCTAssertTrue(bytes.suffix(64).contains(UInt8(ascii: "-")), "the message ends with its closing delimiter")
    }

    func testTheReadReceiptIsAnRFC3798DispositionNotificationWithEveryField() throws {
        let report = DispositionReport(reportingUA: "portal.example; spoolrun", originalRecipient: "bob@ext.example",
                                       finalRecipient: "bob@ext.example", originalMessageID: "orig-1@corp.example")
        var mail = Self.mail(.dispositionNotification(text: "Displayed.\n", report: report),
                             to: [MailAddress(address: "alice@corp.example")], subject: "Read: Figures")
        mail.inReplyTo = "orig-1@corp.example"
        let reading = try Self.pythonReading(try mail.rfc5322())
        XCTAssertEqual((reading["params"] as? [String: String])?["report-type"], "disposition-notification")
        let mdn = try XCTUnwrap(reading["mdn"] as? [String: String])
        XCTAssertEqual(mdn["Reporting-UA"], "portal.example; spoolrun")
        XCTAssertEqual(mdn["Original-Recipient"], "rfc822;bob@ext.example")
        XCTAssertEqual(mdn["Final-Recipient"], "rfc822;bob@ext.example")
        XCTAssertEqual(mdn["Original-Message-ID"], "<orig-1@corp.example>")
        XCTAssertEqual(mdn["Disposition"], "manual-action/MDN-sent-manually; displayed")
        XCTAssertEqual(Self.headers(reading).first { $0.0 == "In-Reply-To" }?.1, "<orig-1@corp.example>")
    }

    func testNonASCIINamesSubjectsAndFilenamesAreEncodedAndReadBackExactly() throws {
        let subject = "Nachricht für Jürgen — Привет 📎"
        let mail = Self.mail(.withAttachment(text: "Grüße\n", html: nil,
                                             attachment: .init(filename: "Übersicht März.pdf", mediaType: "application/pdf", data: [1, 2, 3])),
                             from: MailAddress(name: "Müller, Jürgen", address: "portal@corp.example"),
                             to: [MailAddress(name: "Ωμέγα", address: "omega@ext.example")], subject: subject)
        let bytes = try mail.rfc5322()
        let head = bytes.prefix { _ in true }
        let headerBlock = String(decoding: head, as: UTF8.self).components(separatedBy: "\n\n")[0]
        XCTAssertTrue(headerBlock.utf8.allSatisfy { $0 < 0x80 }, "the header block is pure ASCII: \(headerBlock)")
        let reading = try Self.pythonReading(bytes)
        XCTAssertEqual(reading["defects"] as? [String], [])
        let h = Dictionary(Self.headers(reading), uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(h["Subject"], subject)
        XCTAssertEqual(h["From"], "\"Müller, Jürgen\" <portal@corp.example>")
        XCTAssertEqual(h["To"], "Ωμέγα <omega@ext.example>")
        XCTAssertEqual((reading["attachments"] as? [[String: Any]])?.first?["filename"] as? String, "Übersicht März.pdf")
        XCTAssertEqual((reading["texts"] as? [String: String])?["text/plain"], "Grüße\n")
    }

    func testCRAndLFInNamesSubjectsAndFilenamesCannotAddAHeaderOrARecipient() throws {
        let evil = "x\r\nBcc: victim@evil.example\r\nX-Injected: yes"
        let encodedEvil = "=?utf-8?q?x=0D=0ABcc=3A_victim=40evil=2Eexample?="  // what a decoder would turn into CR LF
        for text in [evil, "x\nBcc: victim@evil.example", "x\rBcc: victim@evil.example", "x\u{2028}Bcc: victim@evil.example",
                     "x\u{85}Bcc: victim@evil.example", encodedEvil] {
            let mail = Self.mail(.withAttachment(text: "body\n", html: "<p>body</p>",
                                                 attachment: .init(filename: text, mediaType: "application/pdf", data: [0])),
                                 from: MailAddress(name: text, address: "portal@corp.example"),
                                 to: [MailAddress(name: text, address: "bob@ext.example")], subject: text)
            let bytes = try mail.rfc5322()
            let reading = try Self.pythonReading(bytes)
            XCTAssertEqual(reading["defects"] as? [String], [], text)
            let names = Self.headers(reading).map { $0.0.lowercased() }.sorted()
            XCTAssertEqual(names, ["auto-submitted", "content-type", "date", "from", "message-id", "mime-version", "subject", "to"],
                           "no header was added by \(text.debugDescription)")
            let recipients = reading["recipients"] as? [String: [String]]
            XCTAssertEqual(recipients?["to"], ["bob@ext.example"], "one recipient only")
            XCTAssertEqual(recipients?["from"], ["portal@corp.example"])
            XCTAssertNil(recipients?["bcc"])
            XCTAssertFalse(String(decoding: bytes, as: UTF8.self).contains("\nBcc:"), text.debugDescription)
        }
    }

    func testAnAddressThatCouldBreakAHeaderOrTheSendmailCommandLineIsRefused() throws {
        for bad in ["bob@ext.example\r\nBcc: x@y.example", "bob@ext.example, eve@evil.example", "-oQ/tmp@x.example",
                    "<bob@ext.example>", "bob ext@example", "bob", "", "bob@ext.example\n"] {
            XCTAssertThrowsError(try Self.mail(.text("x"), to: [MailAddress(address: bad)]).rfc5322(), bad.debugDescription)
        }
        XCTAssertNoThrow(try Self.mail(.text("x"), to: [MailAddress(address: "bob+tag@ext-1.example")]).rfc5322())
    }
}
