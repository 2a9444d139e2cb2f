// The fuzz targets (issue 8) as ordinary tests: every input kept in Tests/Fuzz/regressions
// after a fuzzing finding is replayed through its target, and so is a slice of the seed
// corpus, so the targets and their oracles run on every `make test`. A finding stops the
// process (preconditionFailure), which fails the run.
import Foundation
import FuzzTargets
import TestSupport
import XCTest

final class FuzzRegressionTests: XCTestCase {
    private func files(under dir: String, suffixes: [String]? = nil, limit: Int = 10_000) -> [String] {
        var out: [String] = []
        let e = FileManager.default.enumerator(atPath: dir)
        while let rel = e?.nextObject() as? String, out.count < limit {
            let path = dir.appending(path: rel)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { continue }
            if let suffixes, !suffixes.contains(where: { rel.hasSuffix($0) }) { continue }
            out.append(path)
        }
        return out.sorted()
    }

    private func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: path), path))
    }

    func testEveryKeptFuzzFindingRunsThroughItsTargetWithoutAFinding() throws {
        let root = Paths.repo.appending(path: "Tests/Fuzz/regressions")
        var replayed = 0
        for target in FuzzTarget.allCases {
            let dir = root.appending(path: target.rawValue)
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir), "a regression folder for \(target.rawValue)")
            for file in files(under: dir) where !file.hasSuffix(".gitkeep") {
                target.run(try bytes(file))
                replayed += 1
            }
        }
        print("FuzzRegressionTests: \(replayed) kept finding(s) replayed")
    }

    func testEachFuzzTargetRunsOverASliceOfItsSeedCorpus() throws {
        let mime = files(under: Paths.corpus.appending(path: "mime"), suffixes: [".eml", ".msg"], limit: 60)
            + files(under: Paths.repo.appending(path: "examples/messages"))
        XCTAssertGreaterThan(mime.count, 20)
        for file in mime { FuzzTarget.mime.run(try bytes(file)) }

        // Payloads and envelopes built from them, as the tunnel carries them.
        let envelope = #"{"version": 1, "id": "seed-000001", "created": "2026-11-25T10:00:00Z", "sender": "alice@corp.example", "recipients": ["bob@ext.example"], "read_receipt": true, "delivery": "webmail"}"#
        FuzzTarget.envelope.run(Array(envelope.utf8))
        for file in mime.prefix(10) {
            let payload = Array("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: application/vnd.spoolrun.envelope+json\r\n\r\n\(envelope)\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n".utf8)
                + (try bytes(file)) + Array("\r\n--b--\r\n".utf8)
            FuzzTarget.payload.run(payload)
        }

        let vectors = try JSONSerialization.jsonObject(with: Data(try bytes(Paths.corpus.appending(path: "html/dompurify.json")))) as? [[String: Any]] ?? []
        XCTAssertGreaterThan(vectors.count, 100)
        for v in vectors { if let payload = v["payload"] as? String { FuzzTarget.sanitizer.run(Array(payload.utf8)) } }

        FuzzTarget.receiptLog.run(Array("2026-11-25T10:00:00+00:00 /r/abcdefghijklmnopqrstuvwx\njunk\n\n".utf8))
        let smime = files(under: Paths.corpus.appending(path: "smime/rfc4134"), suffixes: [".bin", ".eml"])
        XCTAssertGreaterThan(smime.count, 5)
        for file in smime + mime.prefix(5) { FuzzTarget.intake.run(try bytes(file)) }
        FuzzTarget.removeInstallation()
    }
}
