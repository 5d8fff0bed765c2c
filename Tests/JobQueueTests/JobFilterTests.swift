import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The operators' job filter (console jobs page, "all matching" actions) on arguments:
/// what it matches, and that the search is served by the partial GIN index over the
/// jobs that have arguments (migration 0027).
final class JobFilterTests: XCTestCase {
    override func setUpWithError() throws {
        try TestDatabase.migrate()
    }

    private func count(_ filter: JobFilter, on connection: PostgresConnection) throws -> Int64 {
        try connection.query(
            "SELECT count(*)::int8 FROM queue.jobs AS j WHERE \(JobFilter.predicate)", filter.parameters
        ).scalar(Int64.self)
    }

    func testArgumentFiltersMatchWhatContainmentMatches() throws {
        let connection = try TestDatabase.connect()
        let queue = TestDatabase.uniqueName("filter")
        try connection.query(
            """
            INSERT INTO queue.jobs (kind, queue, args)
            VALUES ('test.filter', $1, '{}'), ('test.filter', $1, '{"n": 1}'),
                   ('test.filter', $1, '{"n": 2, "city": "杭州"}')
            """, [queue])
        XCTAssertEqual(try count(JobFilter(queue: queue), on: connection), 3)
        // An empty object is contained in every object, the argument-less job's included.
        XCTAssertEqual(try count(JobFilter(queue: queue, argumentsContain: "{}"), on: connection), 3)
        XCTAssertEqual(try count(JobFilter(queue: queue, argumentsContain: "{\"n\": 1}"), on: connection), 1)
        XCTAssertEqual(try count(JobFilter(queue: queue, argumentsContain: "{\"city\": \"杭州\"}"), on: connection), 1)
        XCTAssertEqual(try count(JobFilter(queue: queue, argumentsContain: "{\"n\": 3}"), on: connection), 0)
    }

    func testTheArgumentFilterIsServedByThePartialIndex() throws {
        let connection = try TestDatabase.connect()
        let indexed = try connection.query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'queue' AND indexname = 'jobs_args_idx'"
        ).scalar(String.self)
        XCTAssertTrue(indexed.contains("WHERE (args <> '{}'::jsonb)"), indexed)
        try connection.withTransaction { connection in
            try connection.execute("SET LOCAL enable_seqscan = off")
            let plan = try connection.query(
                "EXPLAIN SELECT j.id FROM queue.jobs AS j WHERE \(JobFilter.predicate) ORDER BY j.id DESC LIMIT 50",
                JobFilter(argumentsContain: "{\"n\": 17}").parameters
            ).rows.map { try $0.decode(0, as: String.self) }.joined(separator: "\n")
            XCTAssertTrue(plan.contains("jobs_args_idx"), plan)
        }
    }
}
