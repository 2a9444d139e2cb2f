// The right user (issue 15): every command that opens the state store runs as the owner of
// paths.state, or refuses with the command to use instead, before it touches anything; a
// state folder others can reach is refused like a key file.
import Foundation
import TestSupport
import XCTest

final class StateOwnerTests: XCTestCase {
    func testCommandsThatWriteStateRefuseToRunAsAnotherUserThanTheStateOwnerAndNameSudo() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root to hand the state folder to another user") }
        let inst = try TestInstallation()
        let tunnel = try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test"])
        try inst.deliver(tunnel, name: "waiting")
        let state = inst.root.appending(path: "state")
        try Shell.check("chown", ["-R", "nobody:nogroup", state])
        let before = try Shell.check("ls", ["-lnR", state]).out

        let commands: [[String]] = [
            ["run", "--config", inst.config],
            ["reprocess", "--config", inst.config, "--all"],
            ["recall", "--config", inst.config, "some-id"],
            ["recipient", "reset", "--config", inst.config, "bob@ext.test", "--password-to", "alice@corp.example"],
            ["recipient", "delete", "--config", inst.config, "bob@ext.test"],
        ]
        for args in commands {
            let r = try Shell.run(Paths.spoolrun, args)
            XCTAssertEqual(r.status, 77, "EX_NOPERM for \(args[0]): \(r.err)")
            XCTAssertTrue(r.err.contains("sudo -u nobody spoolrun"), "the hint names the owner: \(r.err)")
            XCTAssertTrue(r.err.contains(state), "and the state folder: \(r.err)")
        }
        XCTAssertEqual(inst.names(in: "new"), ["waiting"], "nothing was taken in")
        XCTAssertEqual(try Shell.check("ls", ["-lnR", state]).out, before, "no file was made or changed in the state folder")

        // As the owner, the same sweep runs.
        try Shell.check("chown", ["-R", "root:root", state])
        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertEqual(inst.names(in: "archive").count, 1)
    }

    func testAStateFolderThatOthersCanReachStopsTheSweepNamingTheFolderAndTheFix() throws {
        let inst = try TestInstallation()
        let tunnel = try inst.wrap(TestInstallation.sampleOriginal, arguments: ["--to", "bob@ext.test"])
        try inst.deliver(tunnel, name: "waiting")
        let state = inst.root.appending(path: "state")
        chmod(state, 0o755)
        let r = try inst.sweep()
        XCTAssertEqual(r.status, 77, r.err)
        XCTAssertTrue(r.err.contains("\(state): the state folder is accessible by group or others (mode 755); run: chmod 700 \(state)"), r.err)
        XCTAssertEqual(inst.names(in: "new"), ["waiting"])
    }
}
