import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// A claimed job runs only once the transaction that enqueued it has committed; one
/// whose transaction rolled back is discarded unrun (migration 0035). On a Citus cluster
/// the coordinator's one-phase commit can show a job before its transaction's other rows;
/// these tests make the same situation on either target by writing a job that names a
/// transaction still open, or one rolled back, on the database the worker uses.
final class EnqueuingTransactionTests: XCTestCase {
    func testAJobWaitsForTheTransactionThatEnqueuedItAndRunsOnceItCommits() async throws {
        let fixture = try QueueFixture()
        let holder = try TestDatabase.connect()
        try holder.executeScript("BEGIN")
        let transaction = try holder.query("SELECT pg_current_xact_id()::text::int8").scalar(Int64.self)
        let id = try await insertJob(naming: transaction, fixture: fixture)
        let (worker, started) = try recordingWorker(fixture)
        try await worker.running {
            // Claimed, waited for the open transaction, and given back to the queue unrun.
            let givenBack = try await fixture.eventually {
                try await fixture.pool.query(
                    "SELECT state = 'scheduled' AND attempted_at IS NOT NULL FROM queue.jobs WHERE id = $1", [id]
                ).scalar(Bool.self)
            }
            let row = try await fixture.row(id)
            XCTAssertTrue(givenBack, "the worker claimed the job and gave it back: \(row)")
            XCTAssertEqual(started.all, [], "the handler must not run before the enqueuing transaction commits")
            try holder.executeScript("COMMIT")
            let completed = try await fixture.eventually { try await fixture.row(id).state == "completed" }
            let after = try await fixture.row(id)
            XCTAssertTrue(completed, "runs once the transaction committed: \(after)")
        }
        XCTAssertEqual(started.all, [id], "ran exactly once")
        let final = try await fixture.row(id)
        XCTAssertEqual(final.attempt, 1, "the waits gave their attempts back")
    }

    func testAJobWhoseEnqueuingTransactionRolledBackIsDiscardedUnrun() async throws {
        let fixture = try QueueFixture()
        let holder = try TestDatabase.connect()
        try holder.executeScript("BEGIN")
        let transaction = try holder.query("SELECT pg_current_xact_id()::text::int8").scalar(Int64.self)
        try holder.executeScript("ROLLBACK")
        let id = try await insertJob(naming: transaction, fixture: fixture)
        let (worker, started) = try recordingWorker(fixture)
        try await worker.running {
            let discarded = try await fixture.eventually { try await fixture.row(id).state == "discarded" }
            let row = try await fixture.row(id)
            XCTAssertTrue(discarded, "\(row)")
        }
        XCTAssertEqual(started.all, [], "never run")
        let errors = try await fixture.row(id).errors
        XCTAssertTrue(errors.last?.contains("rolled back") == true, "the reason is recorded: \(errors)")
    }

    func testJobsRecordTheirTransactionOnCitusAndNotOnOneServer() async throws {
        let fixture = try QueueFixture()
        let citus = try TestDatabase.isCitus
        let single = try await fixture.client.enqueue(fixture.request(Step.kind, #"{"name":"a"}"#))
        let bulk = try await fixture.client.enqueue([
            fixture.request(Step.kind, #"{"name":"b"}"#), fixture.request(Step.kind, #"{"name":"c"}"#),
        ])
        let ids = [single.id] + bulk.map(\.id)
        let recorded = try await fixture.pool.query(
            "SELECT count(enqueuing_xid)::int8 FROM queue.jobs WHERE queue = $1 AND id = ANY($2)", [fixture.queue, ids]
        ).scalar(Int64.self)
        XCTAssertEqual(recorded, citus ? 3 : 0, citus ? "every insert through the coordinator records it" : "one server: none")
    }

    /// A worker on `fixture`'s queue whose handler records the ids of the jobs it ran.
    private func recordingWorker(_ fixture: QueueFixture) throws -> (JobWorker, Recorder<Int64>) {
        let started = Recorder<Int64>()
        var handlers = JobHandlerRegistry()
        handlers.register(Step.self) { _, context in started.append(context.job.id) }
        return (try fixture.worker(handlers), started)
    }

    /// A runnable job of `fixture`'s queue that names `transaction` as the one that enqueued it.
    private func insertJob(naming transaction: Int64, fixture: QueueFixture) async throws -> Int64 {
        try await fixture.pool.query(
            """
            INSERT INTO queue.jobs (kind, queue, args, enqueuing_xid) VALUES ($1, $2, '{"name":"x","fail":false}', $3::text::xid8)
            RETURNING id
            """, [Step.kind, fixture.queue, transaction]
        ).scalar(Int64.self)
    }
}
