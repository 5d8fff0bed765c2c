import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Arguments with a range, checked by `validate()`.
private struct Measured: JobArguments {
    static let kind = "test.measured"
    var count: Int
    var note: String?

    func validate() throws(JobArgumentsError) {
        if !(1...100).contains(count) { throw JobArgumentsError("count must be 1 to 100, got \(count)") }
    }
}

/// A kind without arguments.
private struct Sweep: JobArguments {
    static let kind = "test.sweep"
}

/// A domain error the engine does not know, marked permanent.
private struct RowMissing: PermanentJobFailure, CustomStringConvertible {
    var description: String { "row 42 does not exist" }
}

/// A kind whose handler always fails in a way a retry might fix.
private struct AlwaysFailing: JobArguments {
    static let kind = "test.always_failing"
    struct GatewayDown: Error {}
}

final class JobArgumentsValidationTests: XCTestCase {
    func testTypedArgumentsAreValidatedWhenTheRequestIsBuilt() throws {
        XCTAssertThrowsError(try JobRequest(Measured(count: 0))) { error in
            XCTAssertEqual(error as? JobQueueError, .invalidJob("test.measured: count must be 1 to 100, got 0"))
        }
        XCTAssertNoThrow(try JobRequest(Measured(count: 100)))
    }

    func testTheCatalogueChecksKindAndArgumentsStrictly() throws {
        let catalogue = JobKindCatalogue([Measured.self, Sweep.self])
        XCTAssertEqual(catalogue.kinds, ["test.measured", "test.sweep"])
        let refused: [(String, String, String)] = [
            ("test.measured", "{}", #"missing field "count""#),
            ("test.measured", #"{"count": "3"}"#, #"field "count" is not"#),
            ("test.measured", #"{"count": 101}"#, "count must be 1 to 100"),
            ("test.measured", #"{"count": 3, "nothe": "typo"}"#, #"unknown field "nothe""#),
            ("test.measured", #"{"count": 3, "extra": {"deep": 1}}"#, #"unknown field "extra""#),
            ("test.measured", "null", "do not decode"),
            ("test.sweep", #"{"dryRun": true}"#, #"unknown field "dryRun""#),
            ("test.sweep", "[]", "do not decode"),
            ("test.sweep", "7", "do not decode"),
            ("test.other", "{}", #"unknown kind "test.other""#),
        ]
        for (kind, json, message) in refused {
            XCTAssertThrowsError(try catalogue.validate(JobRequest(kind: kind, argumentsJSON: json)), "\(kind) \(json)") {
                error in
                XCTAssertTrue("\(error)".contains(message), "\(kind) \(json): \(error) should say \(message)")
            }
        }
        for (kind, json) in [
            ("test.measured", #"{"count": 3}"#), ("test.measured", #"{"count": 3, "note": null}"#),
            ("test.measured", #"{"count": 3, "note": "n"}"#), ("test.sweep", "{}"),
        ] {
            XCTAssertNoThrow(try catalogue.validate(JobRequest(kind: kind, argumentsJSON: json)), "\(kind) \(json)")
        }
    }

    func testPermanentFailuresAreDiscardedAtOnceAndOthersRetried() async throws {
        let fixture = try QueueFixture()
        var handlers = JobHandlerRegistry()
        handlers.register(Measured.self) { measured, _ in if measured.count == 42 { throw RowMissing() } }
        handlers.register(AlwaysFailing.self) { _, _ in throw AlwaysFailing.GatewayDown() }
        // Jobs that bypass the typed request (built by SQL, an older version …).
        let outOfRange = try await fixture.client.enqueue(fixture.request(Measured.kind, #"{"count": 0}"#, maxAttempts: 20)).id
        let unknownField = try await fixture.client.enqueue(
            fixture.request(Measured.kind, #"{"count": 5, "cont": 6}"#, maxAttempts: 20)).id
        let missingRow = try await fixture.client.enqueue(fixture.request(Measured.kind, #"{"count": 42}"#, maxAttempts: 20)).id
        let transient = try await fixture.client.enqueue(fixture.request(AlwaysFailing.kind, "{}", maxAttempts: 20)).id
        try await fixture.worker(handlers).running {
            _ = try await fixture.eventually {
                let counts = try await fixture.counts()
                return counts["discarded"] == 3 && counts["retryable", default: 0] + counts["available", default: 0] == 1
            }
        }
        for (id, mention) in [(outOfRange, "count must be 1 to 100"), (unknownField, #"unknown field "cont""#), (missingRow, "row 42 does not exist")] {
            let row = try await fixture.row(id)
            XCTAssertEqual(row.state, "discarded", mention)
            XCTAssertEqual(row.attempt, 1, "\(mention): discarded on its first attempt, not retried")
            XCTAssertTrue(row.errors.first?.contains(mention) ?? false, "\(row.errors)")
        }
        let retried = try await fixture.row(transient)
        XCTAssertNotEqual(retried.state, "discarded", "a failure that is not permanent is retried")
    }
}
