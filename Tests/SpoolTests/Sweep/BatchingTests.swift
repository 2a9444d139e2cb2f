// Batches are capped by bytes as well as by count (issue 16): a batch's parsed messages are
// in memory together.
@testable import Spool
import XCTest

final class BatchingTests: XCTestCase {
    func testABatchClosesAtTheCountOrBeforeItWouldPassTheByteCapAndALargeFileIsABatchOfItsOwn() {
        let sizes = ["a": 10, "b": 10, "c": 10, "d": 100, "e": 5, "f": 5, "g": 5]
        let batches = Batching.batches(["a", "b", "c", "d", "e", "f", "g"], maxCount: 2, maxBytes: 25, size: { sizes[$0]! })
        XCTAssertEqual(batches, [["a", "b"], ["c"], ["d"], ["e", "f"], ["g"]])
    }

    func testItemsThatMayNotGoTogetherStartANewBatch() {
        let batches = Batching.batches([1, 1, 2, 2, 2, 3], maxCount: 10, maxBytes: 100, size: { _ in 1 }, together: { $0 == $1 })
        XCTAssertEqual(batches, [[1, 1], [2, 2, 2], [3]])
    }

    func testNothingToBatchIsNoBatch() {
        XCTAssertEqual(Batching.batches([Int](), maxCount: 1, maxBytes: 1, size: { _ in 1 }), [])
    }
}
