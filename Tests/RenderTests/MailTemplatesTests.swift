// The mail texts (DESIGN §6): shipped Mustache templates, overridable from a directory.
import Foundation
import Render
import TestSupport
import XCTest

final class MailTemplatesTests: XCTestCase {
    let values: [String: TemplateValue] = [
        "sender_display": .text("Alice <b>&</b> Co"), "sender_address": .text("alice@corp.example"),
        "recipient": .text("bob@ext.example"), "portal_url": .text("https://portal.example/"),
        "password": .text("ABCDE-FGHJK"), "password_id": .text("P-7Q2"), "read_at": .text("2026-11-25 10:00 UTC"),
    ]

    func testEveryShippedKindRendersASubjectATextAndItsValues() throws {
        let t = try MailTemplates.load(overrides: nil)
        for kind in MailKind.allCases {
            let r = t.render(kind, values)
            XCTAssertFalse(r.subject.isEmpty, "\(kind) has a subject")
            XCTAssertFalse(r.subject.contains("\n"), "\(kind): one-line subject")
            XCTAssertFalse(r.text.contains("{{"), "\(kind): every tag is filled")
            XCTAssertTrue(r.text.hasSuffix("\n") && !r.text.hasSuffix("\n\n"))
        }
        XCTAssertTrue(t.render(.notification, values).text.contains("https://portal.example/"))
        XCTAssertNotNil(t.render(.notification, values).html)
        XCTAssertTrue(t.render(.passwordNotice, values).text.contains("ABCDE-FGHJK"))
        XCTAssertTrue(t.render(.otpPDF, values).text.contains("P-7Q2"))
        XCTAssertFalse(t.render(.otpPDF, values).text.contains("ABCDE-FGHJK"), "the OTP mail has no password")
    }

    func testTheNotificationNamesTheSubjectOnlyWhenItIsGiven() throws {
        let t = try MailTemplates.load(overrides: nil)
        let without = t.render(.notification, values)
        var withSubject = values
        withSubject["subject"] = .text("Quarterly figures")
        let with = t.render(.notification, withSubject)
        XCTAssertFalse(without.subject.contains("Quarterly") || without.text.contains("Quarterly")
                       || (without.html ?? "").contains("Quarterly"))
        XCTAssertTrue(with.subject.contains("Quarterly figures"))
        XCTAssertTrue(with.text.contains("Quarterly figures"))
        // An empty subject counts as none.
        withSubject["subject"] = .text("")
        XCTAssertEqual(t.render(.notification, withSubject), without)
    }

    func testValuesAreEscapedInHTMLTemplatesAndKeptAsTheyAreInTextOnes() throws {
        let r = try MailTemplates.load(overrides: nil).render(.notification, values)
        XCTAssertTrue(r.text.contains("Alice <b>&</b> Co"))
        XCTAssertTrue(r.subject.contains("Alice <b>&</b> Co"))
        let html = try XCTUnwrap(r.html)
        XCTAssertFalse(html.contains("<b>&</b>"))
        XCTAssertTrue(html.contains("Alice &lt;b&gt;&amp;&lt;/b&gt; Co"), html)
    }

    func testATemplateInTheOverrideDirectoryReplacesTheShippedOne() throws {
        let dir = try TemporaryDirectory()
        try Data("Neue Nachricht von {{sender_display}}\n".utf8).write(to: URL(fileURLWithPath: dir.file("notification.subject.mustache")))
        try Data("<p>Hallo {{recipient}}</p>".utf8).write(to: URL(fileURLWithPath: dir.file("password-notice.html.mustache")))
        let t = try MailTemplates.load(overrides: dir.path)
        XCTAssertEqual(t.render(.notification, values).subject, "Neue Nachricht von Alice <b>&</b> Co")
        XCTAssertTrue(t.render(.notification, values).text.contains("confidential message"), "the others stay shipped")
        XCTAssertEqual(t.render(.passwordNotice, values).html, "<p>Hallo bob@ext.example</p>")
        XCTAssertEqual(t.sources["notification.subject.mustache"], dir.file("notification.subject.mustache"))
        XCTAssertEqual(t.sources["notification.txt.mustache"], "built-in")
    }

    func testAnUnknownOrBrokenTemplateFileIsAnErrorThatNamesIt() throws {
        let dir = try TemporaryDirectory()
        let unknown = dir.file("notifcation.txt.mustache")
        try Data("x".utf8).write(to: URL(fileURLWithPath: unknown))
        XCTAssertThrowsError(try MailTemplates.load(overrides: dir.path)) { error in
            XCTAssertTrue(String(describing: error).contains(unknown), "\(error)")
        }
        try FileManager.default.removeItem(atPath: unknown)
        let broken = dir.file("notification.txt.mustache")
        try Data("{{#open}} never closed".utf8).write(to: URL(fileURLWithPath: broken))
        XCTAssertThrowsError(try MailTemplates.load(overrides: dir.path)) { error in
            XCTAssertTrue(String(describing: error).contains(broken), "\(error)")
        }
        XCTAssertThrowsError(try MailTemplates.load(overrides: dir.file("missing")))
    }
}
