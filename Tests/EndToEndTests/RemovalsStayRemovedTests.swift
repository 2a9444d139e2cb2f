// What was taken away stays away (issue 15), through the commands an administrator runs:
// `recipient delete`, a new first contact for the same address and `reprocess --all`; the
// new mailbox, opened in Chromium, holds only the new mail.
import Foundation
import TestSupport
import XCTest

final class RemovalsStayRemovedTests: XCTestCase {
    private func original(_ subject: String) -> Data {
        Data(("From: Alice <alice@corp.example>\r\nTo: bob@ext.test\r\nSubject: \(subject)\r\n"
              + "Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
              + "Body of \(subject)\r\n").utf8)
    }

    func testADeletedRecipientMailedAgainSeesOnlyTheNewMailInChromiumAfterReprocessAll() throws {
        guard WebDriver.chromedriverPath != nil, WebDriver.chromiumPath != nil else { throw MissingTool("chromedriver or chromium") }
        guard NginxServer.nginxPath != nil else { throw MissingTool("nginx") }
        let scratch = try TemporaryDirectory("spoolrun-removal")
        let port = try LocalPorts.free()
        let inst = try TestInstallation(listen: "127.0.0.1:\(port)")
        try inst.setConfig("sendmail", "\"/bin/true\"")
        try inst.deliver(try inst.wrap(original("Before the deletion"),
                                       arguments: ["--to", "bob@ext.test", "--password", "bob@ext.test=old-pw-bob-7Kq2"]), name: "m1")
        XCTAssertEqual(try inst.sweep().status, 0)
        let deleted = try Shell.run(Paths.spoolrun, ["recipient", "delete", "--config", inst.config, "bob@ext.test"])
        XCTAssertEqual(deleted.status, 0, deleted.err)

        try inst.deliver(try inst.wrap(original("After the deletion"),
                                       arguments: ["--to", "bob@ext.test", "--password", "bob@ext.test=new-pw-bob-3Xv8"]), name: "m2")
        XCTAssertEqual(try inst.sweep().status, 0)
        let r = try Shell.run(Paths.spoolrun, ["reprocess", "--config", inst.config, "--all"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.err)

        let nginx = try NginxServer(root: inst.root, port: port)
        defer { nginx.stop() }
        let b = try WebDriver(downloadDirectory: scratch.file("downloads"))
        defer { b.quit() }
        try b.navigate(nginx.base + "/")
        try b.submitPortalSignIn("bob@ext.test", "new-pw-bob-3Xv8")
        try b.click(try b.waitFor("#entries .entry", attempts: 300))
        let frame = try b.waitFor("#message-body", attempts: 300)
        XCTAssertTrue(try b.poll(attempts: 100) {
            ((try b.execute("return arguments[0].srcdoc", [WebDriver.argument(frame)]) as? String) ?? "").contains("Body of After the deletion")
        }, "the new mail opens")
        let entries = try b.execute("return document.querySelectorAll('#entries .entry').length") as? Int
        XCTAssertEqual(entries, 1, "the new mailbox lists only the new mail")
        let text = try b.execute("return document.body.innerText") as? String ?? ""
        XCTAssertFalse(text.contains("Before the deletion"), "mail from before the deletion never reaches the new mailbox")
    }
}
