// `spoolrun run` renders what it accepts into sealed mailboxes under www/, and nothing it
// writes there is readable without a recipient's password.
import Foundation
import TestSupport
import XCTest

final class SweepRenderingTests: XCTestCase {
    func testSweepWritesSealedMailboxesWithNoPlaintextUnderWWW() throws {
        let inst = try TestInstallation()
        let original = Data("""
            From: Alice <alice@corp.test>\r
            To: Bob <bob@ext.test>\r
            Subject: MARKER-SUBJ-88 acquisition\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            MARKER-BODY-77 the price is confidential\r

            """.utf8)
        try inst.deliver(try inst.wrap(original, arguments: ["--to", "bob@ext.test", "carol@ext.test",
                                                             "--password", "bob@ext.test=MARKER-PW-66"]), name: "m1")
        let run = try inst.sweep()
        XCTAssertEqual(run.status, 0, run.err)
        let www = inst.root.appending(path: "www")
        let files = FileManager.default.enumerator(atPath: www)!.compactMap { $0 as? String }
        XCTAssertTrue(files.contains("portal.json"))
        XCTAssertEqual(files.filter { $0.hasPrefix("k/") && $0.hasSuffix(".json") }.count, 2, "one key bundle per recipient")
        XCTAssertEqual(files.filter { $0.hasPrefix("m/") && $0.hasSuffix("/index.json") }.count, 2, "one mailbox per recipient")
        XCTAssertEqual(files.filter { $0.hasSuffix("/body") }.count, 2)
        for file in files {
            guard let data = FileManager.default.contents(atPath: www.appending(path: file)) else { continue }
            for marker in ["MARKER-SUBJ", "MARKER-BODY", "MARKER-PW", "bob@", "carol@", "alice@", "acquisition"] {
                XCTAssertNil(data.range(of: Data(marker.utf8)), "www/\(file) contains \(marker)")
            }
        }
        for secret in ["MARKER-SUBJ", "MARKER-BODY", "MARKER-PW"] {
            XCTAssertFalse(run.err.contains(secret), "the log contains \(secret)")
        }
    }

    /// Subject, text, HTML, attachment name and content, a given password and a generated
    /// one, the subject in a notification (show_subject on) and a read-receipt context: none
    /// of it may be readable in www/, the state store (database, WAL and all) or the logs.
    func testNoContentPasswordOrPrivateKeyIsStoredInClearInWWWTheStateStoreOrTheLogs() throws {
        let inst = try TestInstallation()
        var toml = try String(contentsOfFile: inst.config, encoding: .utf8)
        toml = toml.replacingOccurrences(of: "show_subject = false", with: "show_subject = true")
            .replacingOccurrences(of: "sendmail = \"/usr/sbin/sendmail\"", with: "sendmail = \"/bin/true\"")
        try toml.write(toFile: inst.config, atomically: true, encoding: .utf8)
        let attachment = Data("MARKER-ATT-CONTENT-51 figures".utf8).base64EncodedString()
        let original = Data("""
            From: Alice <alice@corp.test>\r
            To: Bob <bob@ext.test>\r
            Subject: MARKER-SUBJ-52 acquisition\r
            Message-ID: <MARKER-MSGID-53@corp.test>\r
            MIME-Version: 1.0\r
            Content-Type: multipart/mixed; boundary="b1"\r
            \r
            --b1\r
            Content-Type: multipart/alternative; boundary="b2"\r
            \r
            --b2\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            MARKER-TEXT-54 the price\r
            --b2\r
            Content-Type: text/html; charset=utf-8\r
            \r
            <p>MARKER-HTML-55 the price</p>\r
            --b2--\r
            --b1\r
            Content-Type: application/octet-stream; name="MARKER-FILE-56.dat"\r
            Content-Disposition: attachment; filename="MARKER-FILE-56.dat"\r
            Content-Transfer-Encoding: base64\r
            \r
            \(attachment)\r
            --b1--\r

            """.utf8)
        try inst.deliver(try inst.wrap(original, arguments: ["--to", "bob@ext.test", "carol@ext.test", "--read-receipt",
                                                             "--password", "bob@ext.test=MARKER-PW-57"]), name: "m1")
        let run = try inst.sweep()
        XCTAssertEqual(run.status, 0, run.err)

        // Carol's password was generated: find it in the password notice that was mailed.
        let list = try Shell.check(Paths.spoolrun, ["outbox", "list", "--json", "--config", inst.config]).stdout
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: list) as? [[String: Any]])
        XCTAssertEqual(Set(rows.compactMap { $0["kind"] as? String }), ["notification", "password-notice"])
        let noticeID = try XCTUnwrap(rows.first { $0["kind"] as? String == "password-notice" }?["id"] as? String)
        let notice = try Shell.check(Paths.spoolrun, ["outbox", "show", noticeID, "--message", "--config", inst.config]).out
        let generated = try XCTUnwrap(PasswordFinder.first(in: notice), "the notice carries carol's password")
        let tunnelKeyPEM = try String(contentsOfFile: inst.root.appending(path: "keys/tunnel-recipient.key"), encoding: .utf8)
        let keyLine = try XCTUnwrap(tunnelKeyPEM.split(separator: "\n").dropFirst().first.map(String.init))

        let markers = ["MARKER-SUBJ-52", "MARKER-MSGID-53", "MARKER-TEXT-54", "MARKER-HTML-55", "MARKER-FILE-56",
                       "MARKER-ATT-CONTENT-51", "MARKER-PW-57", generated, "PRIVATE KEY", keyLine, "acquisition"]
        var searched = 0
        for dir in ["www", "state", "logs"] {
            let root = inst.root.appending(path: dir)
            for file in FileManager.default.enumerator(atPath: root)?.compactMap({ $0 as? String }) ?? [] {
                guard let data = FileManager.default.contents(atPath: root.appending(path: file)) else { continue }
                searched += 1
                for marker in markers {
                    XCTAssertNil(data.range(of: Data(marker.utf8)), "\(dir)/\(file) contains \(marker)")
                }
            }
        }
        XCTAssertGreaterThan(searched, 10)
        for marker in markers { XCTAssertFalse(run.err.contains(marker), "the sweep's log contains \(marker)") }
    }
}
