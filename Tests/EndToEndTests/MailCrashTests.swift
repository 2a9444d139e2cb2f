// The crash suite (DESIGN §8, issue 8): `spoolrun run` and `spoolrun reprocess` killed with
// SIGKILL at random instants, and faults injected at the named pipeline steps (FaultPoint:
// a crash, or the error of a full or read-only file system), again and again, while new
// tunnel messages keep arriving: new and known recipients (some first contacts without a
// password, so password notices are made), OTP PDFs, some asking for read receipts, and bad
// messages; the receipt log keeps growing (with junk, and real reads). Afterwards ordinary
// sweeps finish the work, and then: every good tunnel message is in exactly the mailboxes of
// its recipients, every bad one in spool/failed with the right reason, every notification,
// PDF mail and password notice was queued exactly once and arrived over SMTP at least once,
// and nothing under www/ is a partial file. CRASH_TRIALS sets the number of trials (50 in
// `make test`, 200 in `make crash-test`); CRASH_SEED repeats a run's choices.
import Crypto
import Foundation
import TestSupport
import XCTest

final class MailCrashTests: XCTestCase {
    private struct Planned {
        let name: String
        /// In the subject (show_subject is on), so each notification names its message.
        let token: String
        let sender: String
        let recipients: [String]
        let readReceipt: Bool
        let otp: Bool
        /// A bad message: the reason code it must be quarantined with.
        var badReason: String? = nil
    }

    /// One row of `spoolrun outbox list --json`, with its message (`outbox show --message`).
    private struct Row {
        let id, kind, to, from, state: String
        let envelopeID: String?
        let message: String
        /// Worked out once: the trials make hundreds of rows, some with PDFs of 100 KB.
        let messageID: String?
        /// The planned messages' tokens the header names (the subject is shown).
        let tokens: Set<String>

        init(id: String, kind: String, to: String, from: String, state: String, envelopeID: String?, message: String) {
            (self.id, self.kind, self.to, self.from, self.state, self.envelopeID, self.message) = (id, kind, to, from, state, envelopeID, message)
            let header = message.range(of: "\n\n").map { String(message[..<$0.lowerBound]) }
                ?? message.range(of: "\r\n\r\n").map { String(message[..<$0.lowerBound]) } ?? message
            var found: String?
            for line in header.components(separatedBy: "\n") where line.lowercased().hasPrefix("message-id:") {
                found = line.dropFirst("message-id:".count).trimmingCharacters(in: .whitespacesAndNewlines)
                break
            }
            messageID = found
            tokens = Set(header.matches(of: /crashmsg-\d{4}-end/).map { String($0.0) })
        }
    }

    private enum Phase: String, CaseIterable {
        case beforeIntake = "before anything was accepted", afterAccepting = "after accepting, before receipts",
             receiptsOrDelivering = "reading receipts or delivering", finished = "finished before the kill"
    }

    func testKillsAndInjectedFaultsLoseNoMessageQueueEachMailOnceAndLeaveNoPartialFile() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["CRASH_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let wanted = environment["CRASH_TRIALS"].flatMap { Int($0) } ?? 50
        print("MailCrashTests seed: \(seed) (CRASH_SEED=\(seed) repeats the same choices), \(wanted) trials")
        var rng = SeededGenerator(seed: seed)
        let began = Date()

        let sink = try SMTPSink()
        let inst = try TestInstallation()
        try inst.setConfig("sendmail", "\"\(sink.sendmailCommand)\"")
        try inst.setConfig("show_subject", "true")
        // Small batches: a sweep commits several times, so kills land between commits too.
        try inst.setConfig("max_message_mb", "50\nbatch_size = 2")
        let logs = inst.scratch.file("sweep-logs")
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let receiptLog = inst.root.appending(path: "logs/receipts.log")

        let senders = ["alice@corp.test", "dan@corp.test", "fay@corp.test"]
        let reader = MailboxReader(passwords: Dictionary(uniqueKeysWithValues: (0..<6).map {
            let a = String(format: "g%03d@ext.test", $0); return (a, "Pw-of-\(a)") }))
        var opened: [String: Set<String>] = [:]  // message token -> recipients whose read was logged
        let given = (0..<6).map { String(format: "g%03d@ext.test", $0) }
        var generated: [String] = []
        var planned: [Planned] = []
        var phases: [Phase: Int] = [:]
        var kills = 0, trials = 0, reprocessRuns = 0, reprocessKills = 0
        var faults: [String: Int] = [:]   // "KIND at STEP" -> how many fired

        while trials < wanted {
            trials += 1
            // New mail for this trial: one or two messages.
            for _ in 0..<(1 + rng.next(below: 2)) {
                var to: [String] = [given[rng.next(below: given.count)]]
                if rng.next(below: 3) == 0 {
                    generated.append(String(format: "n%03d@ext.test", generated.count))
                    to.append(generated.last!)
                } else if !generated.isEmpty && rng.next(below: 3) == 0 {
                    to.append(generated[rng.next(below: generated.count)])
                }
                if rng.next(below: 3) == 0 {
                    let other = given[rng.next(below: given.count)]
                    if !to.contains(other) { to.append(other) }
                }
                let p = Planned(name: String(format: "crash-%04d", planned.count + 1),
                                token: String(format: "crashmsg-%04d-end", planned.count + 1),
                                sender: senders[rng.next(below: senders.count)], recipients: to,
                                readReceipt: rng.next(below: 3) == 0, otp: rng.next(below: 5) == 0)
                var args = ["--to"] + to + ["--from", p.sender]
                for r in to where given.contains(r) { args += ["--password", "\(r)=Pw-of-\(r)"] }
                if p.readReceipt { args.append("--read-receipt") }
                if p.otp { args.append("--otp-pdf") }
                let original = Data(["From: Sender <\(p.sender)>", "To: \(to.joined(separator: ", "))",
                                     "Subject: Report \(p.token)", "Date: Wed, 25 Nov 2026 10:00:00 +0000",
                                     "Message-ID: <\(p.token)@corp.test>", "", "Small body \(p.token).", ""]
                    .joined(separator: "\r\n").utf8)
                try inst.deliver(try inst.wrap(original, arguments: args), name: p.name)
                planned.append(p)
            }
            // Now and then a bad message: bytes that are no message, or a message in clear.
            if rng.next(below: 5) == 0 {
                var p = Planned(name: String(format: "bad-%04d", planned.count + 1), token: "", sender: "", recipients: [],
                                readReceipt: false, otp: false)
                if rng.next(below: 2) == 0 {
                    // No colon anywhere: no header field can be read from it.
                    try inst.deliver(Data((0..<(50 + rng.next(below: 400))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                        .map { $0 == UInt8(ascii: ":") ? 0 : $0 }), name: p.name)
                    p.badReason = "malformed-mime"
                } else {
                    let clear = "From: \(TestInstallation.senderAddress)\r\nTo: \(TestInstallation.recipientAddress)\r\n"
                        + "Subject: not encrypted\r\n\r\nA message in clear.\r\n"
                    try inst.deliver(Data(clear.utf8), name: p.name)
                    p.badReason = "not-encrypted"
                }
                planned.append(p)
            }
            // The receipt log grows: junk, and a reader's real reads (tokens taken from the
            // sealed mailboxes, as the portal would after showing the message); rotated once.
            try appendJunk(to: receiptLog, &rng)
            try reader.readNewMessages(inst, receiptLog: receiptLog, opened: &opened)
            if trials == 25, FileManager.default.fileExists(atPath: receiptLog) {
                XCTAssertEqual(rename(receiptLog, receiptLog + ".1"), 0)
            }

            // The sweep, killed at a random instant: after a random time (often early), or a
            // random moment after something it does (a message accepted, the receipt log read,
            // a mail handed over: then the kill can fall between sending and recording).
            let trigger: Trigger
            switch rng.next(below: 10) {
            case 0, 1: trigger = .after(ms: rng.next(below: 150))
            case 2, 3, 4: trigger = .after(ms: rng.next(below: 1500))
            case 5, 6: trigger = .onLog("accepted", jitterMS: rng.next(below: 60))
            case 7: trigger = .onLog("receipt log read", jitterMS: rng.next(below: 20))
            default: trigger = .onArrival(jitterMS: rng.next(below: 8))
            }
            let log = logs.appending(path: "trial-\(trials).log")
            var command = ["run", "--config", inst.config]
            var fault: String?
            var finalTrigger = trigger
            switch rng.next(below: 10) {
            case 4, 5:
                // A crash injected at a named step (the Nth time the sweep gets there).
                fault = "\(FaultSteps.all[rng.next(below: FaultSteps.all.count)]):\(1 + rng.next(below: 3)):crash"
                finalTrigger = .never
            case 6:
                // A full or read-only file system at a step that writes.
                fault = "\(FaultSteps.io[rng.next(below: FaultSteps.io.count)]):\(1 + rng.next(below: 4)):\(rng.next(below: 2) == 0 ? "enospc" : "erofs")"
                finalTrigger = .never
            case 7, 8 where !planned.isEmpty:
                // `spoolrun reprocess --all`, killed at a random instant or by an injected crash.
                command = ["reprocess", "--all", "--config", inst.config]
                reprocessRuns += 1
                if rng.next(below: 2) == 0 {
                    finalTrigger = .after(ms: rng.next(below: 300))
                } else {
                    fault = "\(["render", "write"][rng.next(below: 2)]):\(1 + rng.next(below: 5)):crash"
                    finalTrigger = .never
                }
            default:
                break
            }
            let (killed, status) = try runAndKill(inst, finalTrigger, log: log, sink: sink, command: command, fault: fault)
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let fault, let fired = text.firstMatch(of: /injected fault (\w+) at (\w+)/) {
                faults["\(fired.1) at \(fired.2)", default: 0] += 1
                if fault.hasSuffix(":crash") {
                    XCTAssertTrue(killed, "seed \(seed): an injected crash ends the process: \(text)")
                } else {
                    XCTAssertEqual(status, 1, "seed \(seed): a sweep that meets a full or read-only disk stops with an error")
                    XCTAssertTrue(text.contains("No space left on device") || text.contains("Read-only file system"),
                                  "seed \(seed): the error says what happened: \(text.suffix(600))")
                }
                continue
            }
            if command[0] == "reprocess" {
                if killed { reprocessKills += 1 } else {
                    let problems = text.split(separator: "\n").filter { $0.contains(" error ") || $0.contains(" warning ") || $0.contains("spoolrun:") }
                    XCTAssertEqual(status, 0, "seed \(seed): reprocess: \(problems.joined(separator: "\n").suffix(3000))")
                }
                continue
            }
            if killed {
                kills += 1
                let phase: Phase = text.contains("receipt log read") || text.contains("mail sent") || text.contains("outbox delivered")
                    ? .receiptsOrDelivering : text.contains("accepted") ? .afterAccepting : .beforeIntake
                phases[phase, default: 0] += 1
            } else {
                phases[.finished, default: 0] += 1
                XCTAssertEqual(status, 0, "a sweep that was not killed succeeds (seed \(seed)): \(text)")
            }
        }
        let trialTime = Date().timeIntervalSince(began)
        let faultCount = faults.values.reduce(0, +)
        print("MailCrashTests: \(trials) trials, \(kills) sweeps killed, \(reprocessRuns) reprocess runs (\(reprocessKills) killed from outside), \(faultCount) faults injected ("
              + faults.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "), "
              + "\(planned.count) messages (\(planned.filter { $0.badReason != nil }.count) bad, \(planned.filter(\.otp).count) OTP), "
              + "\(generated.count) first contacts without a password, \(opened.values.reduce(0) { $0 + $1.count }) reads logged, "
              + "\(Int(trialTime)) s; sweep kills by phase: " + Phase.allCases.map { "\($0.rawValue): \(phases[$0] ?? 0)" }.joined(separator: ", "))
        XCTAssertGreaterThanOrEqual(kills + reprocessKills + faultCount, wanted / 2, "seed \(seed): most trials ended in a kill or a fault")
        XCTAssertGreaterThan(faultCount, 0, "seed \(seed): faults were injected")
        let good = planned.filter { $0.badReason == nil }
        let bad = planned.filter { $0.badReason != nil }

        // Ordinary sweeps finish the work (bounded).
        for _ in 0..<10 {
            let r = try inst.sweep()
            XCTAssertEqual(r.status, 0, "seed \(seed): \(r.err)")
            let queued = (try inst.status()["outbox"] as? [String: Any])?["queued"] as? Int
            if inst.names(in: "new").isEmpty && queued == 0 { break }
        }
        let drained = Date().timeIntervalSince(began)
        let rows = try outbox(inst)
        print("MailCrashTests: drained after \(Int(drained)) s; outbox read after \(Int(Date().timeIntervalSince(began))) s")

        // No tunnel message lost: every one is archived and counted, none failed.
        XCTAssertEqual(inst.names(in: "new"), [], "seed \(seed): spool/new is empty")
        XCTAssertEqual(inst.names(in: "failed").filter { !$0.hasSuffix(".reason") }, bad.map(\.name).sorted(),
                       "seed \(seed): exactly the bad messages were quarantined")
        for p in bad { XCTAssertEqual(inst.reasonCode(p.name), p.badReason, "seed \(seed): \(p.name)'s reason") }
        XCTAssertEqual(inst.names(in: "archive"), good.map(\.name).sorted(), "seed \(seed): each good message archived once")
        let status = try inst.status()
        XCTAssertEqual(status["accepted"] as? Int, good.count, "seed \(seed)")
        XCTAssertEqual(status["failed_total"] as? Int, bad.count, "seed \(seed)")

        // Every row is sent; nothing failed or waits.
        for row in rows where row.state != "sent" {
            XCTFail("seed \(seed): \(row.kind) to \(row.to) is \(row.state)")
        }

        // Notifications: one row per message and recipient, for exactly the planned ones.
        // (An OTP message's PDF mail stands in for its notification.)
        let notifications = rows.filter { $0.kind == "notification" || $0.kind == "otp-pdf" }
        var envelopeOf: [String: String] = [:]   // token -> envelope id
        var seen: [String: Int] = [:]
        for row in notifications {
            let tokens = good.filter { row.tokens.contains($0.token) }
            guard tokens.count == 1, let p = tokens.first else {
                XCTFail("seed \(seed): notification \(row.id) to \(row.to) names \(tokens.count) planned messages")
                continue
            }
            XCTAssertTrue(p.recipients.contains(row.to), "seed \(seed): \(p.name) was not for \(row.to)")
            XCTAssertEqual(row.kind, p.otp ? "otp-pdf" : "notification", "seed \(seed): \(p.name) to \(row.to)")
            XCTAssertNotNil(row.envelopeID, "seed \(seed): notification \(row.id) names its envelope")
            if let e = envelopeOf[p.token] {
                XCTAssertEqual(row.envelopeID, e, "seed \(seed): the notifications of \(p.name) share its envelope")
            } else {
                envelopeOf[p.token] = row.envelopeID
            }
            seen["\(p.token) \(row.to)", default: 0] += 1
        }
        for p in good {
            for r in p.recipients {
                XCTAssertEqual(seen["\(p.token) \(r)"], 1, "seed \(seed): one notification of \(p.name) to \(r)")
            }
        }
        XCTAssertEqual(notifications.count, good.reduce(0) { $0 + $1.recipients.count }, "seed \(seed)")
        XCTAssertEqual(Set(envelopeOf.values).count, good.count, "seed \(seed): one envelope per message")

        // Password notices: exactly one per recipient introduced without a password, to the
        // sender of a message that introduced them, and none for recipients with a given password.
        var tokenOfEnvelope: [String: String] = [:]
        for (token, envelope) in envelopeOf { tokenOfEnvelope[envelope] = token }
        var noticesAbout: [String: Int] = [:]
        for row in rows where row.kind == "password-notice" {
            let about = generated.filter { row.message.contains($0) }
            XCTAssertEqual(about.count, 1, "seed \(seed): notice \(row.id) names one new recipient: \(about)")
            XCTAssertFalse(given.contains { row.message.contains($0) }, "seed \(seed): no notice about a given password")
            guard let x = about.first else { continue }
            noticesAbout[x, default: 0] += 1
            let p = try XCTUnwrap(row.envelopeID.flatMap { tokenOfEnvelope[$0] }.flatMap { t in planned.first { $0.token == t } },
                                  "seed \(seed): notice \(row.id) comes from a planned message")
            XCTAssertTrue(p.recipients.contains(x), "seed \(seed): \(p.name) introduced \(x)")
            XCTAssertEqual(row.to, p.sender, "seed \(seed): the notice about \(x) goes to \(p.name)'s sender")
        }
        XCTAssertEqual(noticesAbout, Dictionary(uniqueKeysWithValues: generated.map { ($0, 1) }),
                       "seed \(seed): one password notice per first contact without a password")

        // Read receipts: exactly one per logged read of a message that asked for one, to its
        // sender; none for the others.
        var receiptsSeen: [String: Int] = [:]
        for row in rows where row.kind == "read-receipt" {
            let p = try XCTUnwrap(row.envelopeID.flatMap { tokenOfEnvelope[$0] }.flatMap { t in planned.first { $0.token == t } },
                                  "seed \(seed): receipt \(row.id) answers a planned message")
            XCTAssertTrue(p.readReceipt, "seed \(seed): \(p.name) asked for no receipt")
            XCTAssertEqual(row.to, p.sender, "seed \(seed): the receipt for \(p.name) goes to its sender")
            let reader = p.recipients.first { row.message.contains("rfc822;\($0)") } ?? "?"
            receiptsSeen["\(p.token) \(reader)", default: 0] += 1
        }
        var receiptsExpected: [String: Int] = [:]
        for p in planned where p.readReceipt {
            for r in opened[p.token] ?? [] { receiptsExpected["\(p.token) \(r)"] = 1 }
        }
        XCTAssertEqual(receiptsSeen, receiptsExpected, "seed \(seed): one receipt per message and reader")
        for (key, _) in receiptsExpected where receiptsSeen[key] == nil {
            let token = String(key.split(separator: " ")[0])
            let p = planned.first { $0.token == token }
            print("MailCrashTests: missing receipt \(key): otp=\(p?.otp ?? false) recipients=\(p?.recipients ?? [])")
        }
        XCTAssertGreaterThan(receiptsExpected.count, 0, "seed \(seed): some reads were logged")

        // www/: every good message is in exactly its recipients' mailboxes, every file there
        // opens whole with its recipient's key, and no temporary file is left.
        var passwords = Dictionary(uniqueKeysWithValues: given.map { ($0, "Pw-of-\($0)") })
        for row in rows where row.kind == "password-notice" {
            guard let x = generated.first(where: { row.message.contains($0) }) else { continue }
            passwords[x] = PasswordFinder.first(in: row.message.replacingOccurrences(of: "=\r\n", with: "").replacingOccurrences(of: "=\n", with: ""))
        }
        var problems: [String] = []
        var filesOpened = 0
        for address in (given + generated).sorted() {
            let expected = Set(good.filter { $0.recipients.contains(address) }.map(\.token))
            guard let password = passwords[address] else {
                if !expected.isEmpty { problems.append("no password found for \(address)") }
                continue
            }
            let found = try MailboxReader.verify(inst, address: address, password: password)
            problems += found.problems
            filesOpened += found.files
            XCTAssertEqual(Set(found.subjects.compactMap { $0.split(separator: " ").last.map(String.init) }), expected,
                           "seed \(seed): \(address)'s mailbox holds exactly the messages to \(address)")
            XCTAssertEqual(found.subjects.count, expected.count, "seed \(seed): no message twice in \(address)'s mailbox")
        }
        XCTAssertEqual(inst.temporaryFiles(under: "www"), [], "seed \(seed): no temporary file is left under www/")
        XCTAssertEqual(problems, [], "seed \(seed): every file in the mailboxes opens whole")
        print("MailCrashTests: \(filesOpened) sealed files opened whole in \(passwords.count) mailboxes")

        // Delivered: each row's message arrived at least once, to the row's recipient; nothing else arrived.
        let arrived = try sink.messages()
        let parsed = try sink.checkAll()
        var arrivals: [String: Int] = [:]
        var rowByMessageID: [String: Row] = [:]
        for row in rows { if let id = row.messageID { rowByMessageID[id] = row } }
        for a in arrived {
            let header = a.text.components(separatedBy: "\r\n\r\n").first ?? ""
            let id = header.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("message-id:") }
                .map { $0.dropFirst("message-id:".count).trimmingCharacters(in: .whitespaces) }
            let row = id.flatMap { rowByMessageID[$0] }
            XCTAssertNotNil(row, "seed \(seed): message \(a.index) to \(a.recipients) (\(a.raw.count) bytes) is no outbox row's:\n\(a.text.prefix(1500))")
            if let row {
                XCTAssertEqual(a.recipients, [row.to], "seed \(seed): message \(a.index) went to the row's recipient")
                XCTAssertEqual(a.mailFrom, row.from)
                arrivals[row.id, default: 0] += 1
            }
            XCTAssertEqual(parsed[a.index]?["defects"] as? [String], [], "seed \(seed): message \(a.index) parses without defects")
        }
        for row in rows {
            XCTAssertGreaterThanOrEqual(arrivals[row.id] ?? 0, 1, "seed \(seed): \(row.kind) to \(row.to) arrived")
        }
        let duplicates = arrivals.values.reduce(0) { $0 + max(0, $1 - 1) }
        print("MailCrashTests: \(rows.count) mails queued, \(arrived.count) arrived (\(duplicates) again after a kill "
              + "between sending and recording), \(Int(Date().timeIntervalSince(began))) s in all")
    }

    /// An MTA takes the end of its input as the end of the message. A sweep killed while it
    /// hands a mail over must not leave the command with half of it (or none): what the
    /// command reads is the whole message, even when it reads only after the sweep is dead.
    /// The notification here (a 40 KB subject, shown) is larger than a pipe holds.
    func testASweepKilledWhileHandingAMailToSendmailCannotMakeItSendACutMessage() throws {
        let inst = try TestInstallation()
        try inst.setConfig("show_subject", "true")
        let pidFile = inst.scratch.file("sendmail.pid"), go = inst.scratch.file("go"), got = inst.scratch.file("got.eml")
        let script = inst.scratch.file("slow-reader.sh")
        // It says it runs, waits (at most 20 s) until the test has killed the sweep, then reads.
        let text = """
            #!/bin/sh
            echo $$ > \(pidFile).tmp && mv \(pidFile).tmp \(pidFile)
            i=0
            while [ ! -e \(go) ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
            cat > \(got).tmp && mv \(got).tmp \(got)
            exit 0

            """
        FileManager.default.createFile(atPath: script, contents: Data(text.utf8), attributes: [.posixPermissions: 0o755])
        try inst.setConfig("sendmail", "\"\(script)\"")
        let words = (0..<8000).map { "w\($0 % 97)" }.joined(separator: " ")
        let subject = "Big \(words) END-OF-SUBJECT"
        XCTAssertGreaterThan(subject.utf8.count, 20_000)
        let original = Data(["From: Alice <alice@corp.test>", "To: bob@ext.test", "Subject: \(subject)",
                             "Message-ID: <big@corp.test>", "", "Body.", ""].joined(separator: "\r\n").utf8)
        try inst.deliver(try inst.wrap(original, arguments: ["--to", "bob@ext.test", "--password", "bob@ext.test=Bobs-pw-12345"]),
                         name: "big")

        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.spoolrun)
        p.arguments = ["run", "--config", inst.config]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: pidFile) && p.isRunning && Date() < deadline { usleep(2_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: pidFile), "the sweep started the mail command")
        kill(p.processIdentifier, SIGKILL)
        // Dead (a zombie until reaped) before the command may read; Process.waitUntilExit
        // would also wait for what the command holds open.
        let dead = Date().addingTimeInterval(10)
        while Self.isAlive(p.processIdentifier) && Date() < dead { usleep(2_000) }
        XCTAssertFalse(Self.isAlive(p.processIdentifier), "the sweep is dead")
        FileManager.default.createFile(atPath: go, contents: nil)
        let readDeadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: got) && Date() < readDeadline { usleep(20_000) }
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the sweep was killed while the command ran")

        let rows = try Shell.check(Paths.spoolrun, ["outbox", "list", "--config", inst.config, "--json"])
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: rows.stdout) as? [[String: Any]])
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list.first?["state"] as? String, "queued", "not recorded as sent: the sweep died first")
        let id = try XCTUnwrap(list.first?["id"] as? String)
        let shown = try Shell.check(Paths.spoolrun, ["outbox", "show", "--config", inst.config, "--message", id]).out
        let message = try XCTUnwrap(shown.range(of: "\n\n").map { String(shown[$0.upperBound...].dropLast()) })
        XCTAssertGreaterThan(message.utf8.count, 65_536, "the message is larger than a pipe's buffer")
        let read = try XCTUnwrap(FileManager.default.contents(atPath: got), "the command read its input")
        XCTAssertEqual(read.count, message.utf8.count, "the command read the whole message, not \(read.count) bytes")
        XCTAssertEqual(String(decoding: read, as: UTF8.self), message)
        let parsed = try SMTPSink.check(read)
        XCTAssertEqual(parsed["defects"] as? [String], [])
    }

    // MARK: - Helpers

    /// Whether `pid` runs (a zombie does not).
    private static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.range(of: ") ", options: .backwards) else { return false }
        let state = stat[close.upperBound...].first
        return state != "Z" && state != "X"
    }

    private enum Trigger {
        case after(ms: Int)
        /// When the sweep's log gains a line containing this text, then `jitterMS` later.
        case onLog(String, jitterMS: Int)
        /// When one more message has arrived at the sink, then `jitterMS` later.
        case onArrival(jitterMS: Int)
        /// No kill from outside (an injected fault decides).
        case never
    }

    /// The steps FaultPoint marks; `io` are those where a full or read-only disk can show.
    private enum FaultSteps {
        static let all = ["intake", "render", "write", "record", "archive", "expiry", "receipts", "deliver", "sendmail"]
        static let io = ["write", "record", "archive", "render", "expiry", "receipts", "deliver"]
    }

    /// Starts `spoolrun run` and sends it SIGKILL when `trigger` fires, if it still runs then.
    /// Returns whether it was killed, and its exit status.
    private func runAndKill(_ inst: TestInstallation, _ trigger: Trigger, log: String, sink: SMTPSink,
                            command: [String]? = nil, fault: String? = nil) throws -> (killed: Bool, status: Int32) {
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? handle.close() }
        let arrivedBefore = try sink.messages().count
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.spoolrun)
        p.arguments = command ?? ["run", "--config", inst.config]
        if let fault {
            var environment = ProcessInfo.processInfo.environment
            environment["SPOOLRUN_FAULT"] = fault
            p.environment = environment
        }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        let started = Date()
        // Bounded: a sweep that is not killed still ends (its mail command has mail.timeout).
        let deadline = started.addingTimeInterval(120)
        var fireAt: Date?
        while p.isRunning && Date() < deadline {
            if fireAt == nil {
                switch trigger {
                case .after(let ms):
                    fireAt = started.addingTimeInterval(Double(ms) / 1000)
                case .onLog(let text, let jitter):
                    if ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains(text) {
                        fireAt = Date().addingTimeInterval(Double(jitter) / 1000)
                    }
                case .never:
                    break
                case .onArrival(let jitter):
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: sink.directory)) ?? []
                    if names.filter({ $0.hasSuffix(".eml") && !$0.hasPrefix(".") }).count > arrivedBefore {
                        fireAt = Date().addingTimeInterval(Double(jitter) / 1000)
                    }
                }
            }
            if let fireAt, Date() >= fireAt {
                kill(p.processIdentifier, SIGKILL)
                break
            }
            usleep(1_000)
        }
        if p.isRunning && Date() >= deadline {
            kill(p.processIdentifier, SIGKILL)
            XCTFail("spoolrun \(p.arguments?.first ?? "") did not end within 120 s")
        }
        p.waitUntilExit()
        let killed = p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL
        return (killed, p.terminationStatus)
    }

    /// Lines no receipt can come from: unknown tokens in the right format, and malformed lines;
    /// sometimes a line is left unfinished (the next append completes it with more junk).
    private func appendJunk(to path: String, _ rng: inout SeededGenerator) throws {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var text = ""
        for _ in 0..<(1 + rng.next(below: 3)) {
            switch rng.next(below: 5) {
            case 0, 1:
                let token = String((0..<(16 + rng.next(below: 40))).map { _ in alphabet[rng.next(below: alphabet.count)] })
                text += "2026-11-25T10:\(String(format: "%02d", rng.next(below: 60))):00+00:00 /r/\(token)\n"
            case 2: text += "2026-11-25T10:00:00+00:00 /r/short\n"
            case 3: text += "not a receipt line at all\n"
            default: text += String(repeating: "x", count: 500 + rng.next(below: 2000)) + "\n"
            }
        }
        if rng.next(below: 4) == 0 { text += "2026-11-25T10:00:00+00:00 /r/unfinished" }
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: Data(text.utf8))
    }

    private func outbox(_ inst: TestInstallation) throws -> [Row] {
        let r = try Shell.check(Paths.spoolrun, ["outbox", "list", "--config", inst.config, "--json"])
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]], r.out)
        return try list.map { j in
            let id = j["id"] as? String ?? ""
            let shown = try Shell.check(Paths.spoolrun, ["outbox", "show", "--config", inst.config, "--message", id]).out
            // `show --message` prints the row's fields, a blank line, then the message.
            let message = shown.range(of: "\n\n").map { String(shown[$0.upperBound...]) } ?? ""
            return Row(id: id, kind: j["kind"] as? String ?? "", to: j["to"] as? String ?? "", from: j["from"] as? String ?? "",
                       state: j["state"] as? String ?? "", envelopeID: j["envelope_id"] as? String, message: message)
        }
    }
}

/// Reads mailboxes as the portal app does (sign in with the password, open the index and the
/// sealed message) to find the read-receipt token of each new message, and logs the read as
/// nginx would: `TIME /r/TOKEN` appended to the receipt log.
final class MailboxReader {
    let passwords: [String: String]
    private var keys: [String: (P256KeyPair, String)] = [:]
    private var seen: Set<String> = []

    init(passwords: [String: String]) { self.passwords = passwords }

    /// Opens one mailbox whole, as the portal would: the key bundle, the index and each of its
    /// entries, and every sealed file of every message. Returns the subjects listed, how many
    /// files were opened, and each file that would not open (a partial or foreign file).
    static func verify(_ inst: TestInstallation, address: String, password: String) throws
        -> (subjects: [String], files: Int, problems: [String]) {
        let www = inst.root.appending(path: "www")
        let params = try XCTUnwrap(FileManager.default.contents(atPath: www.appending(path: "portal.json")))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: params) as? [String: Any])
        let salt = try XCTUnwrap((json["salt"] as? String).flatMap(Base64URL.decode))
        let login = try RecipientLogin.derive(address: address, password: password, installationSalt: salt,
                                              iterations: SealedFormat.loginIterations)
        guard let data = FileManager.default.contents(atPath: www.appending(path: "k/\(login.locator).json")) else {
            return ([], 0, ["\(address): no key bundle for the password"])
        }
        let bundle = try KeyBundle(json: [UInt8](data))
        let key = try bundle.unwrap(with: login)
        let mailbox = bundle.mailboxID
        let dir = www.appending(path: "m/\(mailbox)")
        guard let indexData = FileManager.default.contents(atPath: dir.appending(path: "index.json")) else { return ([], 0, []) }
        guard let index = try? JSONSerialization.jsonObject(with: indexData) as? [String: Any],
              let entries = index["entries"] as? [[String: Any]] else { return ([], 0, ["\(address): index.json is not whole"]) }
        var subjects: [String] = [], problems: [String] = []
        var files = 0
        for entry in entries {
            guard let id = entry["id"] as? String, let sealed = (entry["entry"] as? String).flatMap(Base64URL.decode),
                  let plain = try? SealedFormat.open(sealed, with: key, context: .init(mailboxID: mailbox, messageID: id, objectName: "entry")),
                  let document = try? JSONSerialization.jsonObject(with: Data(plain)) as? [String: Any] else {
                problems.append("\(address): an index entry does not open")
                continue
            }
            subjects.append(document["subject"] as? String ?? "")
            let messageDir = dir.appending(path: id)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: messageDir)) ?? [] {
                files += 1
                guard let bytes = FileManager.default.contents(atPath: messageDir.appending(path: name)),
                      (try? SealedFormat.open([UInt8](bytes), with: key,
                                              context: .init(mailboxID: mailbox, messageID: id, objectName: name))) != nil else {
                    problems.append("\(address): m/\(mailbox)/\(id)/\(name) does not open")
                    continue
                }
            }
        }
        return (subjects, files, problems)
    }

    func readNewMessages(_ inst: TestInstallation, receiptLog: String, opened: inout [String: Set<String>]) throws {
        let www = inst.root.appending(path: "www")
        guard let params = FileManager.default.contents(atPath: www.appending(path: "portal.json")),
              let json = try JSONSerialization.jsonObject(with: params) as? [String: Any],
              let salt = (json["salt"] as? String).flatMap(Base64URL.decode) else { return }
        var lines = ""
        for (address, password) in passwords.sorted(by: { $0.key < $1.key }) {
            if keys[address] == nil {
                let login = try RecipientLogin.derive(address: address, password: password, installationSalt: salt,
                                                      iterations: SealedFormat.loginIterations)
                guard let data = FileManager.default.contents(atPath: www.appending(path: "k/\(login.locator).json")) else { continue }
                let bundle = try KeyBundle(json: [UInt8](data))
                keys[address] = (try bundle.unwrap(with: login), bundle.mailboxID)
            }
            guard let (key, mailbox) = keys[address],
                  let indexData = FileManager.default.contents(atPath: www.appending(path: "m/\(mailbox)/index.json")),
                  let index = try JSONSerialization.jsonObject(with: indexData) as? [String: Any],
                  let entries = index["entries"] as? [[String: Any]] else { continue }
            for entry in entries {
                guard let id = entry["id"] as? String, !seen.contains("\(mailbox)/\(id)") else { continue }
                // A message whose files are not all there yet (a sweep was killed) waits.
                guard let sealed = FileManager.default.contents(atPath: www.appending(path: "m/\(mailbox)/\(id)/body")),
                      let plain = try? SealedFormat.open([UInt8](sealed), with: key,
                                                         context: .init(mailboxID: mailbox, messageID: id, objectName: "body")),
                      let body = try JSONSerialization.jsonObject(with: Data(plain)) as? [String: Any],
                      let subject = body["subject"] as? String else { continue }
                seen.insert("\(mailbox)/\(id)")
                guard let receipt = body["receipt"] as? String,
                      let token = subject.split(separator: " ").last.map(String.init) else { continue }
                lines += "2026-11-25T12:00:00+00:00 /r/\(receipt)\n"
                opened[token, default: []].insert(address)
            }
        }
        guard !lines.isEmpty else { return }
        if !FileManager.default.fileExists(atPath: receiptLog) { FileManager.default.createFile(atPath: receiptLog, contents: nil) }
        // nginx writes whole lines: end a partial junk line first, so it cannot swallow ours.
        if let last = FileManager.default.contents(atPath: receiptLog)?.last, last != 0x0A { lines = "\n" + lines }
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: receiptLog))
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: Data(lines.utf8))
    }
}
