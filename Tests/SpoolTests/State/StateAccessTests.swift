// State is private and has one owner (issue 15): the state folder and everything in it is
// refused when group or others can reach it, as keys are; what spoolrun creates there is
// 0600/0700; and only the folder's owner may open it.
import Foundation
@testable import Spool
import TestSupport
import XCTest

final class StateAccessTests: XCTestCase {
    private func state(_ dir: TemporaryDirectory) -> String { dir.file("state") }

    /// Every file and folder under `root` with its permission bits.
    private func modes(under root: String) -> [String: mode_t] {
        var out: [String: mode_t] = [:]
        var st = stat()
        if lstat(root, &st) == 0 { out["."] = st.st_mode & 0o777 }
        let walker = FileManager.default.enumerator(atPath: root)
        while let relative = walker?.nextObject() as? String {
            if lstat((root as NSString).appendingPathComponent(relative), &st) == 0 { out[relative] = st.st_mode & 0o777 }
        }
        return out
    }

    func testTheStateFolderAndEveryFileInItAreCreatedPrivateWhateverTheUmask() throws {
        let dir = try TemporaryDirectory()
        let old = umask(0o022)
        defer { umask(old) }
        let store = try StateStore(directory: state(dir))
        _ = try store.installationSalt()
        // A large payload goes to a file of its own under outbox/.
        let entry = OutboxEntry(uid: "u1", kind: .notification, envelopeID: "e1", mailFrom: "portal@portal.test",
                                recipient: "bob@ext.test", sealed: [UInt8](repeating: 7, count: StateStore.largePayload + 1), createdAt: Date())
        try store.record(accepted: [], rejected: [], writes: { var w = BatchWrites(); w.outbox = [entry]; return w }())
        let found = modes(under: state(dir))
        XCTAssertTrue(found.keys.contains("spoolrun.sqlite") && found.keys.contains("outbox"), "\(found)")
        XCTAssertTrue(found.keys.contains { $0.hasPrefix("outbox/") }, "\(found)")
        for (name, mode) in found {
            let isFolder = name == "." || name == "outbox"
            XCTAssertEqual(mode, isFolder ? 0o700 : 0o600, "\(name) is \(String(mode, radix: 8))")
        }
    }

    func testAStateFolderThatGroupOrOthersCanReachIsRefusedWithTheFixNamed() throws {
        let dir = try TemporaryDirectory()
        _ = try StateStore(directory: state(dir))
        chmod(state(dir), 0o750)
        XCTAssertThrowsError(try StateStore(directory: state(dir))) { error in
            XCTAssertTrue(error is StateAccessError, "\(error)")
            XCTAssertTrue("\(error)".contains(state(dir)) && "\(error)".contains("mode 750") && "\(error)".contains("chmod 700"), "\(error)")
        }
    }

    func testAStateFileThatGroupOrOthersCanReadIsRefusedWithTheFileNamed() throws {
        let dir = try TemporaryDirectory()
        _ = try StateStore(directory: state(dir))
        let database = state(dir) + "/spoolrun.sqlite"
        chmod(database, 0o644)
        XCTAssertThrowsError(try StateStore(directory: state(dir))) { error in
            XCTAssertTrue("\(error)".contains(database) && "\(error)".contains("chmod 600 \(database)"), "\(error)")
        }
        chmod(database, 0o600)
        XCTAssertNoThrow(try StateStore(directory: state(dir)), "fixed as the message says, it opens")
    }

    func testAFileInTheStateFolderOwnedByAnotherUserIsRefusedWithTheChownNamed() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root to give a file to another user") }
        let dir = try TemporaryDirectory()
        _ = try StateStore(directory: state(dir))
        let stray = state(dir) + "/spoolrun.sqlite-shm"
        FileManager.default.createFile(atPath: stray, contents: nil, attributes: [.posixPermissions: 0o600])
        XCTAssertEqual(chown(stray, 65534, 65534), 0)
        XCTAssertThrowsError(try StateStore(directory: state(dir))) { error in
            XCTAssertTrue("\(error)".contains(stray) && "\(error)".contains("chown root \(stray)"), "\(error)")
        }
    }
}
