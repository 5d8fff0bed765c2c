@testable import JobQueue
import XCTest

/// `BatchColumn` decides what the bulk insert sends: one shared value, or every
/// request's value in order.
final class BatchColumnTests: XCTestCase {
    func testAValueEveryRequestHasIsSentOnce() {
        let column = BatchColumn(["noop", "noop", "noop"]) { $0 }
        XCTAssertNil(column.each)
        XCTAssertEqual(column.shared, "noop")
        let none = BatchColumn([Int64?.none, nil]) { $0 }
        XCTAssertNil(none.each)
        XCTAssertNil(none.shared, "nil for every request: no array and no value")
        XCTAssertEqual(BatchColumn([Int64(5)]) { $0 }.shared, 5, "a batch of one shares its value")
    }

    func testValuesThatDifferAreSentInOrderWhereverTheFirstDifferenceIs() {
        for values: [String?] in [
            ["a", "a", "a", "b"], ["b", "a", "a", "a"], ["a", "b", "a", "a"], ["a", nil, "a"], [nil, nil, "a"],
        ] {
            let column = BatchColumn(values) { $0 }
            XCTAssertEqual(column.each, values, "\(values)")
            XCTAssertNil(column.shared, "\(values)")
        }
    }
}
