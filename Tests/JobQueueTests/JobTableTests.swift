import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The engine's counts and table-level facts that benchmarks read instead of the job
/// table itself.
final class JobTableTests: XCTestCase {
    /// The state and scope check constraints (migration 0036 wrote their lists as array
    /// literals, migration 0039 moved them and the other one-column checks into domains,
    /// which PostgreSQL reads faster): every `JobState` and both unique scopes are
    /// accepted, with a finished time exactly when final and a lease exactly when running;
    /// anything else is refused (SQLSTATE 23514) by the constraint that says so.
    func testTheJobTableAcceptsEveryStateAndScopeAndRefusesOthers() async throws {
        let fixture = try QueueFixture()
        let connection = try TestDatabase.connect()
        let insert = """
            INSERT INTO queue.jobs (kind, queue, state, unique_scope, finalized_at, lease_id, lease_expires_at)
            VALUES ('test.check', $1, $2, $3, CASE WHEN $4 THEN now() END, CASE WHEN $5 THEN 1 END,
                    CASE WHEN $5 THEN now() END)
            """
        func verdict(
            _ state: String, scope: String = UniqueScope.active.rawValue, final: Bool = false, leased: Bool = false
        ) -> String {
            do {
                _ = try connection.query(insert, [fixture.queue, state, scope, final, leased])
                return "accepted"
            } catch let error as PostgresError where error.isCheckViolation {
                return error.constraint ?? "a check without a name: \(error)"
            } catch {
                return "\(error)"
            }
        }
        for state in JobState.allCases {
            for scope in [UniqueScope.active, .always] {
                XCTAssertEqual(
                    verdict(state.rawValue, scope: scope.rawValue, final: state.isFinal, leased: state == .running),
                    "accepted", "\(state), scope \(scope)")
            }
        }
        XCTAssertEqual(verdict("paused"), "jobs_state_check")
        XCTAssertEqual(verdict("Available"), "jobs_state_check")
        XCTAssertEqual(verdict(JobState.available.rawValue, scope: "never"), "jobs_unique_scope_check")
        XCTAssertEqual(verdict(JobState.completed.rawValue), "final_has_time")
        XCTAssertEqual(verdict(JobState.available.rawValue, final: true), "final_has_time")
        XCTAssertEqual(verdict(JobState.running.rawValue), "running_has_lease")
        _ = try connection.query("DELETE FROM queue.jobs WHERE queue = $1", [fixture.queue])
    }

    /// The other one-column checks (kind and queue lengths, priority, attempt, max
    /// attempts; migration 0039 moved all but the queue's into domains): each bound's
    /// value is accepted, one past it refused by the named constraint, on insert and on
    /// update alike, and the refusal says which constraint and which value's type.
    func testTheJobTableRefusesEachColumnOutsideItsBoundsByName() async throws {
        let fixture = try QueueFixture()
        let connection = try TestDatabase.connect()
        func verdict(_ sql: String, _ parameters: [any PostgresEncodable]) -> String {
            do {
                _ = try connection.query(sql, parameters)
                return "accepted"
            } catch let error as PostgresError where error.isCheckViolation {
                return error.constraint ?? "a check without a name: \(error)"
            } catch {
                return "\(error)"
            }
        }
        let insert = "INSERT INTO queue.jobs (kind, queue, priority, attempt, max_attempts) VALUES ($1, $2, $3, $4, $5)"
        func inserting(
            kind: String = "test.bounds", queue: String? = nil, priority: Int = 0, attempt: Int = 0, maxAttempts: Int = 1
        ) -> String {
            verdict(insert, [kind, queue ?? fixture.queue, priority, attempt, maxAttempts])
        }
        XCTAssertEqual(inserting(kind: String(repeating: "k", count: 200), priority: 32767), "accepted")
        XCTAssertEqual(inserting(kind: ""), "jobs_kind_check")
        XCTAssertEqual(inserting(kind: String(repeating: "k", count: 201)), "jobs_kind_check")
        XCTAssertEqual(inserting(queue: ""), "jobs_queue_check")
        XCTAssertEqual(inserting(queue: String(repeating: "q", count: 101)), "jobs_queue_check")
        XCTAssertEqual(inserting(priority: -1), "jobs_priority_check")
        XCTAssertEqual(inserting(attempt: -1), "jobs_attempt_check")
        XCTAssertEqual(inserting(maxAttempts: 0), "jobs_max_attempts_check")

        func update(_ assignment: String) -> String { "UPDATE queue.jobs SET \(assignment) WHERE queue = $1" }
        for (assignment, constraint) in [
            ("state = 'paused'", "jobs_state_check"), ("kind = ''", "jobs_kind_check"),
            ("priority = -1", "jobs_priority_check"), ("attempt = attempt - 1", "jobs_attempt_check"),
            ("max_attempts = 0", "jobs_max_attempts_check"), ("unique_scope = 'never'", "jobs_unique_scope_check"),
        ] {
            XCTAssertEqual(
                verdict(update(assignment), [fixture.queue]), constraint, assignment)
        }
        do {
            _ = try connection.query(update("state = 'paused'"), [fixture.queue])
            XCTFail("a job in state 'paused' was accepted")
        } catch let error as PostgresError {
            XCTAssertTrue("\(error)".contains("jobs_state_check"), "the refusal names the constraint: \(error)")
        }
        _ = try connection.query("DELETE FROM queue.jobs WHERE queue = $1", [fixture.queue])
    }

    func testCountsByStateForOneQueueOneKindAndSinceATime() async throws {
        let fixture = try QueueFixture()
        let before = try await fixture.pool.query("SELECT now()").scalar(Date.self)
        _ = try await fixture.client.enqueue([
            fixture.request("test.counted"), fixture.request("test.counted"),
            fixture.request("test.counted", runAt: Date().addingTimeInterval(3600)),
            fixture.request("test.other"), fixture.request("test.other"),
        ])
        let retriedID = try await fixture.client.enqueue(fixture.request("test.counted")).id
        _ = try await fixture.pool.query("UPDATE queue.jobs SET attempt = 2 WHERE id = $1", [retriedID])

        let counts = try await fixture.pool.withConnection { connection in
            (
                queue: try JobCounts.byState(queue: fixture.queue, on: connection),
                kind: try JobCounts.byState(queue: fixture.queue, kind: "test.counted", on: connection),
                since: try JobCounts.byState(
                    queue: fixture.queue, createdSince: before.addingTimeInterval(3600), on: connection)
            )
        }
        XCTAssertEqual(counts.queue[.available], JobCounts.InState(jobs: 5, retried: 1))
        XCTAssertEqual(counts.queue[.scheduled], JobCounts.InState(jobs: 1, retried: 0))
        XCTAssertEqual(counts.kind[.available], JobCounts.InState(jobs: 3, retried: 1))
        XCTAssertEqual(counts.kind.count, 2, "only available and scheduled hold jobs: \(counts.kind)")
        XCTAssertTrue(counts.since.isEmpty, "no job was created an hour from now: \(counts.since)")
    }

    func testJobsWithErrorsAreCountedAndIdsAreListedByQueueAndState() async throws {
        let fixture = try QueueFixture()
        let ids = try await fixture.client.enqueue([
            fixture.request("test.listed"), fixture.request("test.listed"),
            fixture.request("test.listed", runAt: Date().addingTimeInterval(3600)),
        ]).map(\.id)
        _ = try await fixture.pool.query(
            "UPDATE queue.jobs SET errors = '[{\"error\": \"boom\"}]' WHERE id = $1", [ids[1]])
        let other = try await fixture.client.enqueue(
            JobRequest(kind: "test.listed", queue: fixture.queue + "-other")).id

        let read = try await fixture.pool.withConnection { connection in
            (
                counts: try JobCounts.byState(queue: fixture.queue, on: connection),
                all: try JobIdentifiers.inQueue(fixture.queue, on: connection),
                scheduled: try JobIdentifiers.inQueue(fixture.queue, states: [.scheduled], on: connection),
                none: try JobIdentifiers.inQueue(fixture.queue, states: [.completed, .running], on: connection)
            )
        }
        XCTAssertEqual(read.counts[.available], JobCounts.InState(jobs: 2, retried: 0, withErrors: 1))
        XCTAssertEqual(read.all, ids.sorted(), "every job of the queue, none of another (\(other))")
        XCTAssertEqual(read.scheduled, [ids[2]])
        XCTAssertEqual(read.none, [])
    }

    func testCompletedHistoryIsCountedAndTheTableReportsSizesAndSettings() async throws {
        let fixture = try QueueFixture()
        let facts = try await fixture.pool.withConnection { connection in
            try JobTable.addCompletedHistory(
                kind: "test.history", queue: fixture.queue, count: 50, finishedOver: .seconds(10), on: connection)
            return (
                counts: try JobCounts.byState(queue: fixture.queue, on: connection),
                snapshot: try JobTable.snapshot(on: connection),
                options: try JobTable.storageOptions(on: connection)
            )
        }
        XCTAssertEqual(facts.counts, [.completed: JobCounts.InState(jobs: 50, retried: 0)])
        let snapshot = try XCTUnwrap(facts.snapshot, "the migrated job table has statistics")
        XCTAssertGreaterThan(snapshot.heapBytes, 0)
        XCTAssertGreaterThan(snapshot.totalBytes, snapshot.heapBytes, "indexes count in the total size")
        XCTAssertFalse(snapshot.indexBytes.isEmpty)
        XCTAssertTrue(facts.options.contains("fillfactor=80"), "as migrated: \(facts.options)")
    }
}
