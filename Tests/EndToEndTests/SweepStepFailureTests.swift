// A sweep step that fails for a reason of its own (not the installation's) does not keep the
// steps after it from running, and the sweep still reports the failure (issue 15); a render
// error of one message that may pass is that message's alone.
import Foundation
import TestSupport
import XCTest

final class SweepStepFailureTests: XCTestCase {
    private func sweep(_ inst: TestInstallation, fault: String) throws -> ProcessResult {
        try Shell.run(Paths.spoolrun, ["run", "--config", inst.config], environment: ["SPOOLRUN_FAULT": fault], timeout: 120)
    }

    func testAReceiptStepThatFailsForItsOwnReasonLetsDeliveryRunAndTheSweepReportsIt() throws {
        let inst = try PerFileKit.installation()
        try inst.deliver(try PerFileKit.tunnel(inst, to: "bob@ext.test", subject: "First"), name: "1700000000.M1.a")
        let r = try sweep(inst, fault: "receipts:1:enotdir")
        XCTAssertEqual(r.status, 1, "the sweep reports the failed step: \(r.err.suffix(1500))")
        XCTAssertTrue(r.err.contains("step failed; the other steps go on") && r.err.contains("step=receipts"), r.err)
        XCTAssertEqual(inst.names(in: "archive"), ["1700000000.M1.a"], "the message was taken in")
        let status = try inst.status()
        XCTAssertEqual((status["last_sweep"] as? [String: Any])?["result"] as? String, "failed")
        let outbox = try XCTUnwrap(status["outbox"] as? [String: Any])
        XCTAssertEqual(outbox["sent"] as? Int, 1, "the deliver step after it ran: \(outbox)")

        XCTAssertEqual(try inst.sweep().status, 0, "without the fault the next sweep is clean")
    }

    func testARenderErrorOfOneMessageThatMayPassLeavesItForTheNextSweepAndDeliversTheOthers() throws {
        let inst = try PerFileKit.installation()
        try inst.deliver(try PerFileKit.tunnel(inst, to: "bob@ext.test", subject: "First"), name: "1700000000.M1.a")
        try inst.deliver(try PerFileKit.tunnel(inst, to: "carol@ext.test", subject: "Second"), name: "1700000001.M2.b")
        let r = try sweep(inst, fault: "render:1:enotdir")
        XCTAssertEqual(r.status, 0, r.err.suffix(1500).description)
        XCTAssertEqual(inst.names(in: "new").count + inst.names(in: "archive").count, 2)
        XCTAssertEqual(inst.names(in: "new").count, 1, "one message waits for the next sweep")
        XCTAssertEqual(inst.names(in: "failed"), [], "nothing is quarantined for an error that may pass")
        XCTAssertEqual(inst.names(in: "archive").count, 1, "the other is delivered")
        XCTAssertTrue(r.err.contains("left in spool/new; tried again in the next sweep"), r.err)

        XCTAssertEqual(try inst.sweep().status, 0)
        XCTAssertEqual(inst.names(in: "archive"), ["1700000000.M1.a", "1700000001.M2.b"])
        XCTAssertEqual(try PerFileKit.subjects(inst, "bob@ext.test"), ["First"])
        XCTAssertEqual(try PerFileKit.subjects(inst, "carol@ext.test"), ["Second"])
    }
}
