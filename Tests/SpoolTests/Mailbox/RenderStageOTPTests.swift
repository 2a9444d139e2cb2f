// The render step in OTP mode (DESIGN §7): the PDF is mailed, its password only sealed in
// the recipient's mailbox, and rendering the message again mails nothing new.
import Crypto
import Foundation
@testable import Spool
import TestSupport
import XCTest
@testable import Tunnel

extension RenderStageTests {
    func deliverOTP(_ original: [UInt8], to recipients: [String], passwords: [String: String], name: String) throws {
        var options = WrapOptions(recipients: recipients)
        options.passwords = passwords
        options.otpPDF = true
        try FileSystem.writeAtomically(try Wrapper.wrap(original, config: gateway, options: options), to: config.spool + "/new/" + name)
    }

    /// The sealed message document and index entry of each message in `address`'s mailbox.
    func otpDocuments(_ address: String, _ password: String) throws -> [(body: [String: Any], entry: [String: Any], id: String, mailbox: String)] {
        let (key, mailbox) = try XCTUnwrap(try signIn(address, password))
        return try index(mailbox).map { e in
            let id = e["id"] as! String
            let body = try JSONSerialization.jsonObject(with: Data(try open(key, mailbox, id, "body"))) as! [String: Any]
            let entry = try JSONSerialization.jsonObject(with: Data(try SealedFormat.open(
                Base64URL.decode(e["entry"] as! String)!, with: key, context: .init(mailboxID: mailbox, messageID: id, objectName: "entry")))) as! [String: Any]
            return (body, entry, id, mailbox)
        }
    }

    func queuedMail() throws -> [(kind: OutboxEntry.Kind, to: String, text: String)] {
        let key = try OutboxKey.loadOrCreate(path: config.outboxKey)
        let store = try StateStore(directory: config.state)
        return try store.queuedOutbox().map {
            ($0.kind, $0.recipient, String(decoding: try key.message(of: $0, sealed: try store.sealedPayload(of: $0)), as: UTF8.self))
        }
    }

    func testAnOTPMessageMailsEachRecipientAPDFInsteadOfANotificationAndSealsItsPasswordInTheirMailbox() throws {
        let passwords = ["bob@ext.example": "pw-bob-otp-render", "dora@ext.example": "pw-dora-otp-render"]
        try deliverOTP(original, to: ["bob@ext.example", "dora@ext.example"], passwords: passwords, name: "m1")
        XCTAssertEqual(try sweep().accepted, 1)

        let mail = try queuedMail()
        XCTAssertEqual(mail.map(\.kind.rawValue).sorted(), ["otp-pdf", "otp-pdf"], "one PDF mail per recipient and no notification")
        var seen: [String: String] = [:]
        for address in passwords.keys.sorted() {
            let docs = try otpDocuments(address, passwords[address]!)
            XCTAssertEqual(docs.count, 1)
            let otp = try XCTUnwrap(docs[0].body["otp"] as? [String: Any], "the message document carries the OTP details")
            let id = try XCTUnwrap(otp["password_id"] as? String)
            let password = try XCTUnwrap(otp["password"] as? String)
            XCTAssertEqual(otp["file"] as? String, "message-\(id).pdf")
            XCTAssertEqual(otp["portal_copy"] as? Bool, true)
            XCTAssertEqual(docs[0].entry["otp_id"] as? String, id, "the inbox entry names the password id")
            XCTAssertEqual(docs[0].entry["subject"] as? String, "MARKER-SUBJECT-4K8 merger")
            XCTAssertTrue((docs[0].body["body"] as? String ?? "").contains("MARKER-HTML-2W5"), "the portal copy is readable")

            let own = try XCTUnwrap(mail.first { $0.to == address })
            XCTAssertTrue(own.text.contains(id), "the mail names the password id")
            XCTAssertFalse(own.text.contains(password), "the mail never holds the password")
            XCTAssertTrue(own.text.contains("application/pdf"), "the PDF is attached")
            seen[address] = password
        }
        XCTAssertNotEqual(seen["bob@ext.example"], seen["dora@ext.example"], "two recipients of one message get different passwords")

        // The same recipient, a second message: another password.
        try deliverOTP(original, to: ["bob@ext.example"], passwords: [:], name: "m2")
        XCTAssertEqual(try sweep().accepted, 1)
        let bobs = try otpDocuments("bob@ext.example", "pw-bob-otp-render").compactMap { ($0.body["otp"] as? [String: Any])?["password"] as? String }
        XCTAssertEqual(bobs.count, 2)
        XCTAssertEqual(Set(bobs).count, 2, "each message gets its own password")
    }

    func testRenderingAnOTPMessageAgainShowsTheSamePasswordAndMailsNoNewPDF() throws {
        try deliverOTP(original, to: ["erin@ext.example"], passwords: ["erin@ext.example": "pw-erin-otp-render"], name: "m1")
        let tunnel = try FileManager.default.contents(atPath: config.spool + "/new/m1").map { [UInt8]($0) }!
        let accepted = try Intake(config: config, opener: try KeyFiles.tunnelOpener(for: config)).check(tunnel, now: Date()).get()
        try FileSystem.makeDirectory(config.state, mode: 0o700)
        let store = try StateStore(directory: config.state)
        let context = SweepContext(config: config, spool: SpoolDirectory(root: config.spool), store: store, now: Date())
        func render() throws -> (password: String, id: String) {
            var items = [BatchItem(spoolName: "m1", digest: "d", size: tunnel.count, outcome: .accepted(accepted))]
            var writes = BatchWrites()
            try RenderStage(loginIterations: iterations).run(&items, writes: &writes, context: context)
            try store.record(accepted: [], rejected: [], writes: writes)
            let otp = try XCTUnwrap(try otpDocuments("erin@ext.example", "pw-erin-otp-render").first?.body["otp"] as? [String: Any])
            return (otp["password"] as! String, otp["password_id"] as! String)
        }
        let first = try render()
        let mailBefore = try queuedMail()
        let second = try render()
        XCTAssertEqual(second.password, first.password, "the portal keeps showing the password of the PDF already mailed")
        XCTAssertEqual(second.id, first.id)
        let mailAfter = try queuedMail()
        XCTAssertEqual(mailAfter.count, 1, "one PDF mail, not two")
        XCTAssertEqual(mailAfter.map(\.text), mailBefore.map(\.text), "the queued PDF mail is the first one, untouched")
    }

    func testWithoutAPortalCopyTheMailboxHoldsOnlyThePasswordOfAnOTPMessage() throws {
        config.otpPortalCopy = false
        try deliverOTP(original, to: ["finn@ext.example"], passwords: ["finn@ext.example": "pw-finn-otp-render"], name: "m1")
        XCTAssertEqual(try sweep().accepted, 1)
        let doc = try XCTUnwrap(try otpDocuments("finn@ext.example", "pw-finn-otp-render").first)
        XCTAssertEqual(doc.body["format"] as? String, "none")
        XCTAssertEqual(doc.body["body"] as? String, "")
        XCTAssertEqual((doc.body["attachments"] as? [Any])?.count, 0)
        let otp = try XCTUnwrap(doc.body["otp"] as? [String: Any])
        XCTAssertEqual(otp["portal_copy"] as? Bool, false)
        XCTAssertNotNil(otp["password"] as? String)
        let files = try FileManager.default.contentsOfDirectory(atPath: PortalFiles(root: config.www).mailboxPath(doc.mailbox) + "/\(doc.id)")
        XCTAssertEqual(files, ["body"], "no original, no attachment: only the document with the password")
    }

    func testAFirstContactOTPRecipientGetsThePDFAndTheSenderThePasswordNotice() throws {
        try deliverOTP(original, to: ["gus@ext.example"], passwords: [:], name: "m1")
        XCTAssertEqual(try sweep().accepted, 1)
        let mail = try queuedMail()
        XCTAssertEqual(mail.map(\.kind.rawValue).sorted(), ["otp-pdf", "password-notice"])
        let notice = try XCTUnwrap(mail.first { $0.kind == .passwordNotice })
        XCTAssertEqual(notice.to, "alice@corp.example", "the portal password goes to the sender")
        let pdfMail = try XCTUnwrap(mail.first { $0.kind == .otpPDF })
        XCTAssertEqual(pdfMail.to, "gus@ext.example")
        XCTAssertTrue(pdfMail.text.contains("first message through this portal"), "the PDF mail explains where the portal password comes from")
        let portalPassword = try XCTUnwrap(PasswordFinder.first(in: notice.text))
        XCTAssertFalse(pdfMail.text.contains(portalPassword), "the recipient's mail holds no portal password")
        let doc = try XCTUnwrap(try otpDocuments("gus@ext.example", portalPassword).first)
        XCTAssertNotNil((doc.body["otp"] as? [String: Any])?["password"] as? String, "the portal password opens the PDF's password")
    }
}
