import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Garbage job arguments: every case is a discarded job with its reason; no crash,
/// no hang. (Garbage through the admin CLI: `JobsctlInputTests`.)
final class BadInputTests: XCTestCase {
    func testGarbageJobArgumentsAreDiscardedWithTheReason() async throws {
        let fixture = try QueueFixture()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, _ in }
        let cases: [(String, String)] = [
            (#"{"number": "7", "label": "x"}"#, "number"),
            (#"{"number": 1e40, "label": "x"}"#, "out of range"),
            (#"{"number": 99999999999999999999999, "label": "x"}"#, "out of range"),
            (#"{"number": 1, "label": null}"#, "label"),
            (#"[1, 2, 3]"#, "Payload"),
            (#""just a string""#, "Payload"),
            (#"{"number": 1}"#, "label"),
            (#"{"number": 1, "label": "x", "lable": "y"}"#, #"unknown field "lable""#),
        ]
        var ids: [Int64] = []
        for (json, _) in cases {
            if json.hasPrefix("{") {
                ids.append(try await fixture.client.enqueue(fixture.request("test.payload", json)).id)
            } else {
                // Enqueueing refuses arguments that are not an object; a row written
                // by an older version or straight into the table can still hold them.
                ids.append(try await fixture.pool.query(
                    "INSERT INTO queue.jobs (kind, queue, args) VALUES ('test.payload', $1, $2::jsonb) RETURNING id",
                    [fixture.queue, json]
                ).scalar(Int64.self))
            }
        }
        let good = try await fixture.client.enqueue(try JobRequest(Payload(number: 1, label: "ok"), queue: fixture.queue)).id
        try await fixture.worker(handlers).running {
            _ = try await fixture.eventually {
                let counts = try await fixture.counts()
                return counts["completed"] == 1 && counts["discarded"] == cases.count
            }
        }
        for (id, (json, mention)) in zip(ids, cases) {
            let row = try await fixture.row(id)
            XCTAssertEqual(row.state, "discarded", json)
            XCTAssertEqual(row.attempt, 1, "\(json): not retried")
            XCTAssertTrue(row.errors.first?.contains(mention) ?? false, "\(json): \(row.errors)")
        }
        let goodRow = try await fixture.row(good)
        XCTAssertEqual(goodRow.state, "completed", "the worker kept serving")
    }
}
