// One bad file never stops the portal (issue 15): an error about one tunnel file is that
// file's alone. It is quarantined with a reason, or tried again in later sweeps and
// quarantined after spool.max_attempts; the rest of its batch is delivered and the later
// steps (mail delivery) run in the same sweep, which exits 0. Quarantine names stay within
// NAME_MAX whatever the spool name's length.
import Foundation
import TestSupport
import XCTest

final class PerFileErrorTests: XCTestCase {

    func testAJunkFileWithA236CharacterNameIsQuarantinedAndTheGoodFilesOfItsBatchAreDeliveredInASweepThatExitsZero() throws {
        let inst = try PerFileKit.installation()
        try inst.deliver(try PerFileKit.tunnel(inst, to: "bob@ext.test", subject: "First"), name: "1700000000.M1.good-a")
        let long = "1700000001.M2." + String(repeating: "x", count: 236 - 14)
        XCTAssertEqual(long.utf8.count, 236)
        let junk = Data("From: someone@evil.test\r\nSubject: junk\r\n\r\nnot a tunnel message\r\n".utf8)
        try inst.deliver(junk, name: long)
        try inst.deliver(try PerFileKit.tunnel(inst, to: "carol@ext.test", subject: "Second"), name: "1700000002.M3.good-b")

        let r = try inst.sweep()
        XCTAssertEqual(r.status, 0, "the sweep completes: \(r.err.suffix(1500))")
        XCTAssertEqual(inst.names(in: "archive"), ["1700000000.M1.good-a", "1700000002.M3.good-b"], "the good files are delivered")
        XCTAssertEqual(inst.names(in: "new"), [])
        XCTAssertEqual(inst.names(in: "failed"), [long, long + ".reason"], "the junk is quarantined under its own name")
        XCTAssertEqual(inst.reasonCode(long), "wrong-address")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: inst.spool("failed").appending(path: long))), junk, "byte-identical")
        XCTAssertEqual(try PerFileKit.subjects(inst, "bob@ext.test"), ["First"])
        XCTAssertEqual(try PerFileKit.subjects(inst, "carol@ext.test"), ["Second"])
        let status = try inst.status()
        XCTAssertEqual((status["last_sweep"] as? [String: Any])?["result"] as? String, "ok")
        let outbox = try XCTUnwrap(status["outbox"] as? [String: Any])
        XCTAssertEqual(outbox["queued"] as? Int, 0, "the deliver step ran in the same sweep: \(outbox)")
        XCTAssertEqual(outbox["sent"] as? Int, 2, "one notification per recipient: \(outbox)")

        // And the next sweep has nothing left to trip on.
        let next = try inst.sweep()
        XCTAssertEqual(next.status, 0, next.err)
        XCTAssertEqual(inst.names(in: "failed"), [long, long + ".reason"])
    }

    func testASpoolNameTooLongForItsReasonFileIsQuarantinedUnderAShortenedUniqueNameWhoseReasonNamesTheSpoolFile() throws {
        let inst = try PerFileKit.installation()
        let stem = "1700000000.M1." + String(repeating: "y", count: 230)
        let names = [stem + "-one-x", stem + "-two-x"].map { String($0.prefix(250)) + "abcde".prefix(5) }
        XCTAssertEqual(names.map(\.utf8.count), [255, 255])
        XCTAssertNotEqual(names[0], names[1])
        var delivered: [String: Data] = [:]
        for (n, name) in names.enumerated() {
            let junk = Data("junk number \(n)\r\n".utf8)
            delivered[name] = junk
            try inst.deliver(junk, name: name)
        }
        let goodName = "1700000009.M9." + String(repeating: "z", count: 255 - 14)
        try inst.deliver(try PerFileKit.tunnel(inst, to: "bob@ext.test", subject: "Long"), name: goodName)

        let r = try inst.sweep()
        XCTAssertEqual(r.status, 0, r.err.suffix(1500).description)
        XCTAssertEqual(inst.names(in: "new"), [])
        XCTAssertEqual(inst.names(in: "archive"), [goodName], "a good file with a 255-byte name is archived under it")
        let failed = inst.names(in: "failed")
        XCTAssertEqual(failed.count, 4, "two files, each with its reason: \(failed)")
        for name in failed { XCTAssertLessThanOrEqual(name.utf8.count, 255, name) }
        var seen: Set<String> = []
        for name in failed where !name.hasSuffix(".reason") {
            let reason = try String(contentsOfFile: inst.spool("failed").appending(path: name + ".reason"), encoding: .utf8)
            let lines = reason.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.first, "malformed-mime", reason)
            let original = try XCTUnwrap(lines.first { $0.hasPrefix("spool-name: ") }?.dropFirst("spool-name: ".count), reason)
            seen.insert(String(original))
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: inst.spool("failed").appending(path: name))),
                           delivered[String(original)], "the file under the short name is the spool file the reason names")
        }
        XCTAssertEqual(seen, Set(names), "each spool file is quarantined once, under a name of its own")
    }

    func testARenderErrorThatMayPassIsTriedAgainWithACountedAttemptAndQuarantinedAfterMaxAttempts() throws {
        let inst = try PerFileKit.installation(maxAttempts: 3)
        try inst.deliver(try PerFileKit.tunnel(inst, to: "bob@ext.test", subject: "Before"), name: "1700000000.M0.first")
        XCTAssertEqual(try inst.sweep().status, 0)
        let mailbox = try PerFileKit.breakMailbox(inst)

        let toBob = try PerFileKit.tunnel(inst, to: "bob@ext.test", subject: "Stuck")
        try inst.deliver(toBob, name: "1700000001.M1.to-bob")
        try inst.deliver(try PerFileKit.tunnel(inst, to: "carol@ext.test", subject: "Fine"), name: "1700000002.M2.to-carol")

        for attempt in 1...2 {
            let r = try inst.sweep()
            XCTAssertEqual(r.status, 0, "attempt \(attempt): the sweep completes: \(r.err.suffix(1500))")
            XCTAssertEqual(inst.names(in: "new"), ["1700000001.M1.to-bob"], "attempt \(attempt): left in spool/new")
            XCTAssertEqual(inst.names(in: "failed"), [])
            let retrying = try XCTUnwrap(try inst.status()["retrying"] as? [[String: Any]])
            XCTAssertEqual(retrying.count, 1, "\(retrying)")
            XCTAssertEqual(retrying.first?["file"] as? String, "1700000001.M1.to-bob")
            XCTAssertEqual(retrying.first?["attempts"] as? Int, attempt, "each sweep counts one attempt")
            XCTAssertTrue((retrying.first?["last_error"] as? String ?? "").contains(mailbox), "the error names the path: \(retrying)")
        }
        XCTAssertEqual(inst.names(in: "archive"), ["1700000000.M0.first", "1700000002.M2.to-carol"], "the good file was delivered at once")
        XCTAssertEqual(try PerFileKit.subjects(inst, "carol@ext.test"), ["Fine"])
        let outbox = try XCTUnwrap(try inst.status()["outbox"] as? [String: Any])
        XCTAssertEqual(outbox["queued"] as? Int, 0, "the deliver step ran: \(outbox)")
        XCTAssertEqual(outbox["sent"] as? Int, 2, "bob's first notification and carol's: \(outbox)")

        let last = try inst.sweep()
        XCTAssertEqual(last.status, 0, last.err.suffix(1500).description)
        XCTAssertEqual(inst.names(in: "new"), [])
        XCTAssertEqual(inst.names(in: "failed"), ["1700000001.M1.to-bob", "1700000001.M1.to-bob.reason"],
                       "quarantined after spool.max_attempts (3) sweeps")
        XCTAssertEqual(inst.reasonCode("1700000001.M1.to-bob"), "render-failed")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: inst.spool("failed").appending(path: "1700000001.M1.to-bob"))), toBob)
        let status = try inst.status()
        XCTAssertEqual((status["retrying"] as? [Any])?.count, 0, "nothing is tried again any more")
        XCTAssertEqual((status["failed"] as? [String: Int])?["render-failed"], 1, "\(status)")
    }

    func testAFileTriedAgainIsDeliveredOnceTheErrorHasPassed() throws {
        let inst = try PerFileKit.installation()
        try inst.deliver(try PerFileKit.tunnel(inst, to: "bob@ext.test", subject: "Before"), name: "1700000000.M0.first")
        XCTAssertEqual(try inst.sweep().status, 0)
        let mailbox = try PerFileKit.breakMailbox(inst)
        try inst.deliver(try PerFileKit.tunnel(inst, to: "bob@ext.test", subject: "Later"), name: "1700000001.M1.to-bob")

        let broken = try inst.sweep()
        XCTAssertEqual(broken.status, 0, broken.err.suffix(1500).description)
        XCTAssertEqual(inst.names(in: "new"), ["1700000001.M1.to-bob"])
        XCTAssertTrue(broken.err.contains("tried again"), "the log says the file waits: \(broken.err.suffix(1500))")

        // The administrator puts the mailbox back.
        try FileManager.default.removeItem(atPath: mailbox)
        try FileManager.default.moveItem(atPath: mailbox + ".aside", toPath: mailbox)
        let mended = try inst.sweep()
        XCTAssertEqual(mended.status, 0, mended.err.suffix(1500).description)
        XCTAssertEqual(inst.names(in: "new"), [])
        XCTAssertEqual(inst.names(in: "failed"), [])
        XCTAssertEqual(inst.names(in: "archive"), ["1700000000.M0.first", "1700000001.M1.to-bob"])
        XCTAssertEqual(try PerFileKit.subjects(inst, "bob@ext.test").sorted(), ["Before", "Later"])
        XCTAssertEqual((try inst.status()["retrying"] as? [Any])?.count, 0, "the attempts are forgotten once delivered")
    }
}

enum PerFileKit {
    static func password(_ address: String) -> String { "Pw-of-\(address)" }

    /// An installation that shows subjects and "sends" mail with /bin/true.
    static func installation(maxAttempts: Int? = nil, spool: [String] = []) throws -> TestInstallation {
        let inst = try TestInstallation()
        try inst.setConfig("sendmail", "\"/bin/true\"")
        try inst.setConfig("show_subject", "true")
        var lines = spool
        if let maxAttempts { lines.append("max_attempts = \(maxAttempts)") }
        if !lines.isEmpty {
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: inst.config))
            handle.seekToEndOfFile()
            handle.write(Data(("\n[spool]\n" + lines.joined(separator: "\n") + "\n").utf8))
            try handle.close()
        }
        return inst
    }

    static func tunnel(_ inst: TestInstallation, to address: String, subject: String) throws -> Data {
        let original = Data(["From: Alice <alice@corp.test>", "To: \(address)", "Subject: \(subject)",
                             "Date: Wed, 25 Nov 2026 10:00:00 +0000", "Message-ID: <\(subject)@corp.test>", "",
                             "Body of \(subject).", ""].joined(separator: "\r\n").utf8)
        return try inst.wrap(original, arguments: ["--to", address, "--from", "alice@corp.test",
                                                   "--password", "\(address)=\(password(address))"])
    }

    static func subjects(_ inst: TestInstallation, _ address: String) throws -> [String] {
        let found = try MailboxReader.verify(inst, address: address, password: password(address))
        XCTAssertEqual(found.problems, [])
        return found.subjects
    }

    /// Puts a regular file where the only mailbox folder (www/m/ID) was, the folder kept
    /// beside it as ID.aside: every write into that mailbox fails (ENOTDIR). Returns the path.
    static func breakMailbox(_ inst: TestInstallation) throws -> String {
        let m = inst.root.appending(path: "www/m")
        let ids = try FileManager.default.contentsOfDirectory(atPath: m).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(ids.count, 1, "one mailbox: \(ids)")
        let mailbox = m.appending(path: try XCTUnwrap(ids.first))
        try FileManager.default.moveItem(atPath: mailbox, toPath: mailbox + ".aside")
        XCTAssertTrue(FileManager.default.createFile(atPath: mailbox, contents: Data("in the way\n".utf8)))
        return mailbox
    }
}
