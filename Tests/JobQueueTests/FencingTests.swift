import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// A worker that stalled past its lease must not be able to touch the attempt that
/// replaced it: complete, fail, snooze, heartbeat and in-transaction completion
/// are all refused for the old lease.
final class FencingTests: XCTestCase {
    private func claimOne(_ fixture: QueueFixture, worker: String) async throws -> ClaimedJob {
        let jobs = try await JobClaimer.claim(
            queue: fixture.queue, limit: 1, workerID: worker, lease: .seconds(30), on: fixture.pool)
        return try XCTUnwrap(jobs.first)
    }

    /// Simulates the stall: the lease lapses and the rescuer hands the job back.
    private func expireAndRescue(_ job: ClaimedJob, _ fixture: QueueFixture) async throws {
        _ = try await fixture.pool.query(
            "UPDATE queue.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [job.id])
        let rescued = try await JobMaintenance.rescueLapsedLeases(on: fixture.pool)
        XCTAssertTrue(rescued.contains { $0.id == job.id && $0.state == .retryable })
        _ = try await fixture.pool.query("UPDATE queue.jobs SET run_at = now() WHERE id = $1", [job.id])
        _ = try await JobMaintenance.stageDueJobs(on: fixture.pool)
    }

    func testAStaleWorkerCannotOverwriteTheNewerAttempt() async throws {
        let fixture = try QueueFixture()
        let id = try await fixture.client.enqueue(fixture.request("test.fence")).id
        let stale = try await claimOne(fixture, worker: "stalled")
        XCTAssertEqual(stale.attempt, 1)
        try await expireAndRescue(stale, fixture)
        let current = try await claimOne(fixture, worker: "healthy")
        XCTAssertEqual(current.id, id)
        XCTAssertEqual(current.attempt, 2)
        XCTAssertNotEqual(current.lease, stale.lease)

        // The stalled worker wakes up and reports every kind of outcome: all refused.
        let acknowledger = JobAcknowledger(
            database: fixture.pool, workerID: "stalled", log: .silent, outage: DatabaseOutage(log: .silent))
        for result: JobOutcome.Result in [
            .completed, .retry(at: Date(), error: "late"), .discarded(error: "late"), .cancelled(reason: "late"),
            .snoozed(until: Date()), .released,
        ] {
            await acknowledger.submit(JobOutcome(lease: stale.lease, attempt: stale.attempt, result: result))
        }
        await acknowledger.drain(timeout: .seconds(10))
        let fenced = await acknowledger.fencedCount
        XCTAssertEqual(fenced, 6)
        var row = try await fixture.row(id)
        XCTAssertEqual(row.state, "running")
        XCTAssertEqual(row.attempt, 2)

        // Its heartbeat does not extend the new attempt's lease either.
        let renewed = try await fixture.pool.query(
            LeaseKeeper.renew, [[stale.id], [stale.lease.leaseID], Int64(60_000), stale.queue])
        XCTAssertEqual(renewed.rowCount, 0)

        // The current attempt's outcome is applied.
        await acknowledger.submit(JobOutcome(lease: current.lease, attempt: current.attempt, result: .completed))
        await acknowledger.drain(timeout: .seconds(10))
        row = try await fixture.row(id)
        XCTAssertEqual(row.state, "completed")
        XCTAssertEqual(row.errors.count, 1, "only the rescue recorded an error")
        XCTAssertTrue(row.errors[0].contains("lease expired"))
    }

    /// After an asynchronous promotion the new primary's `queue.lease_seq` can hand out
    /// again the value a lost claim had drawn. Simulated here by winding the sequence
    /// back: the job's second claim draws the very same sequence value as the stale
    /// one, and the stale worker's outcomes must still be refused.
    func testAStaleLeaseIsRefusedWhenTheLeaseSequenceRepeats() async throws {
        let fixture = try QueueFixture()
        let id = try await fixture.client.enqueue(fixture.request("test.fence")).id
        let sequenceBefore = try await leaseSequenceState(fixture)
        let stale = try await claimOne(fixture, worker: "before-failover")
        let staleDraw = try await leaseSequenceState(fixture)
        try await expireAndRescue(stale, fixture)
        _ = try await fixture.pool.query(
            "SELECT setval('queue.lease_seq', $1, $2)", [sequenceBefore.value, sequenceBefore.called])
        let current = try await claimOne(fixture, worker: "after-failover")
        let currentDraw = try await leaseSequenceState(fixture)
        XCTAssertEqual(current.id, id)
        XCTAssertEqual(currentDraw.value, staleDraw.value, "both claims drew the same sequence value")
        XCTAssertNotEqual(current.lease, stale.lease)

        let acknowledger = JobAcknowledger(
            database: fixture.pool, workerID: "before-failover", log: .silent, outage: DatabaseOutage(log: .silent))
        await acknowledger.submit(JobOutcome(lease: stale.lease, attempt: stale.attempt, result: .completed))
        await acknowledger.drain(timeout: .seconds(10))
        let fenced = await acknowledger.fencedCount
        XCTAssertEqual(fenced, 1)
        let renewed = try await fixture.pool.query(
            LeaseKeeper.renew, [[stale.id], [stale.lease.leaseID], Int64(60_000), stale.queue])
        XCTAssertEqual(renewed.rowCount, 0)
        let stillRunning = try await fixture.row(id).state
        XCTAssertEqual(stillRunning, "running")

        await acknowledger.submit(JobOutcome(lease: current.lease, attempt: current.attempt, result: .completed))
        await acknowledger.drain(timeout: .seconds(10))
        let finished = try await fixture.row(id).state
        XCTAssertEqual(finished, "completed")
    }

    private func leaseSequenceState(_ fixture: QueueFixture) async throws -> (value: Int64, called: Bool) {
        let result = try await fixture.pool.query("SELECT last_value, is_called FROM queue.lease_seq")
        let row = try XCTUnwrap(result.rows.first)
        return (try row.decode(0, as: Int64.self), try row.decode(1, as: Bool.self))
    }

    func testAStaleInTransactionCompletionRollsBackItsEffects() async throws {
        let fixture = try QueueFixture()
        let table = TestDatabase.uniqueName("fx")
        _ = try await fixture.pool.query("CREATE TABLE \(table) (job_id int8 NOT NULL, attempt int4 NOT NULL)")
        let id = try await fixture.client.enqueue(fixture.request("test.fence")).id
        let stale = try await claimOne(fixture, worker: "stalled")
        try await expireAndRescue(stale, fixture)
        let current = try await claimOne(fixture, worker: "healthy")

        func context(for job: ClaimedJob) -> JobContext {
            JobContext(job: job, database: fixture.pool, workerID: "w", log: .silent, completion: CompletionMarker())
        }
        let insert = { @Sendable (job: ClaimedJob) in
            { @Sendable (connection: PostgresConnection) throws in
                try connection.execute("INSERT INTO \(table) VALUES ($1, $2)", [job.id, Int32(job.attempt)])
            }
        }
        do {
            try await context(for: stale).completeInTransaction(insert(stale))
            XCTFail("a stale lease cannot complete")
        } catch let error as JobQueueError {
            XCTAssertEqual(error, .leaseLost(jobID: id))
        }
        try await context(for: current).completeInTransaction(insert(current))
        let effects = try await fixture.pool.query("SELECT attempt FROM \(table)")
        XCTAssertEqual(try effects.rows.map { try $0.decode(0, as: Int32.self) }, [2], "only the current attempt's effect")
        let row = try await fixture.row(id)
        XCTAssertEqual(row.state, "completed")
    }

    func testTwoClaimersNeverGetTheSameJob() async throws {
        let fixture = try QueueFixture()
        try await fixture.client.enqueue((0..<500).map { _ in fixture.request("test.claim") })
        let pool = fixture.pool
        let queue = fixture.queue
        let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let jobs = try await JobClaimer.claim(
                            queue: queue, limit: 7, workerID: "w\(worker)", lease: .seconds(30), on: pool)
                        if jobs.isEmpty { return mine }
                        mine += jobs.map(\.id)
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        XCTAssertEqual(claimed.count, 500)
        XCTAssertEqual(Set(claimed).count, 500)
    }

    func testClaimsUseTheRunnableOnlyIndex() async throws {
        let fixture = try QueueFixture()
        let connection = try TestDatabase.connect()
        try connection.executeScript("SET enable_seqscan = off")
        let plan = try connection.query(
            "EXPLAIN " + JobClaimer.claimStatement(limit: 10).replacingOccurrences(of: "$1", with: "'\(fixture.queue)'")
                .replacingOccurrences(of: "$2", with: "'w'").replacingOccurrences(of: "$3", with: "1000")
                .replacingOccurrences(of: "$4", with: "42"))
        let text = try plan.rows.map { try $0.decode(0, as: String.self) }.joined(separator: "\n")
        XCTAssertTrue(text.contains("jobs_claim_idx"), text)
        // The plan a cached statement settles on (the claim runs thousands of times a second).
        try connection.executeScript(
            "SET plan_cache_mode = force_generic_plan; PREPARE claim_generic(text, text, int8, int8) AS "
                + JobClaimer.claimStatement(limit: 10))
        let generic = try connection.query("EXPLAIN EXECUTE claim_generic('\(fixture.queue)', 'w', 1000, 42)")
        let genericText = try generic.rows.map { try $0.decode(0, as: String.self) }.joined(separator: "\n")
        XCTAssertTrue(genericText.contains("jobs_claim_idx"), genericText)
        XCTAssertFalse(genericText.contains("Sort"), genericText)
    }

    /// Outcomes and heartbeats come in batches of thousands while a worker may hold
    /// thousands of claims: their generic plans must look each job up by primary key
    /// from the batch, never scan the running rows per batch entry — whatever the
    /// statistics say about how many rows are running.
    func testBatchedOutcomesAndHeartbeatsLookJobsUpByPrimaryKey() async throws {
        let fixture = try QueueFixture()
        let connection = try TestDatabase.connect()
        // A table of history whose statistics say nothing is running.
        try connection.execute(
            """
            INSERT INTO queue.jobs (kind, queue, state, finalized_at)
            SELECT 'test.history', $1, 'completed', now() FROM generate_series(1, 20000)
            """, [fixture.queue])
        try connection.executeScript(
            """
            ANALYZE queue.jobs;
            SET plan_cache_mode = force_generic_plan;
            PREPARE finish_generic(int8[], int8[], text[], text[], int8[], text, int4[], text) AS \(JobAckStatements.finish);
            PREPARE renew_generic(int8[], int8[], int8, text) AS \(LeaseKeeper.renew);
            """)
        for explain in [
            "EXPLAIN EXECUTE finish_generic('{1,2}', '{1,2}', '{completed,completed}', '{NULL,NULL}', '{NULL,NULL}', 'q', '{1,1}', 'w')",
            "EXPLAIN EXECUTE renew_generic('{1,2}', '{1,2}', 1000, 'q')",
        ] {
            let plan = try connection.query(explain).rows.map { try $0.decode(0, as: String.self) }.joined(separator: "\n")
            XCTAssertTrue(plan.contains("jobs_pkey"), plan)
            XCTAssertFalse(plan.contains("jobs_lease_idx"), plan)
        }
    }

    /// The first executions of a statement on a connection are planned with the batch in
    /// hand. With statistics taken while every job waited (a backlog just enqueued and
    /// analyzed) and thousands of jobs running since, a large outcome or heartbeat batch
    /// must still be matched with its jobs once per entry — never the batch rescanned for
    /// each running row (a processing stall of seconds in the side-by-side benchmark).
    func testALargeBatchIsMatchedOnceWhateverTheStatisticsSayAboutRunningJobs() async throws {
        let fixture = try QueueFixture()
        try await JobAdministration(database: fixture.pool).setKeepCompleted(fixture.queue, false)
        let connection = try TestDatabase.connect()
        try connection.execute(
            "INSERT INTO queue.jobs (kind, queue) SELECT 'test.backlog', $1 FROM generate_series(1, 20000)", [fixture.queue])
        try connection.executeScript("ANALYZE queue.jobs")
        let leased = try connection.query(
            """
            UPDATE queue.jobs SET state = 'running', attempt = 1, attempted_at = now(), lease_id = 7000000 + id / 40,
                leased_by = 'w', lease_expires_at = now() + interval '1 minute'
            WHERE id IN (SELECT id FROM queue.jobs WHERE queue = $1 ORDER BY id LIMIT 4000)
            RETURNING id, lease_id
            """, [fixture.queue]
        ).rows.map { try $0.decode((Int64, Int64).self) }.sorted { $0.0 < $1.0 }
        let batch = Array(leased.prefix(1735))
        let ids = batch.map(\.0), leases = batch.map(\.1)
        let none = [String?](repeating: nil, count: batch.count)
        let explain = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) "
        var plans = [(String, [any PostgresEncodable])]()
        for state in [JobState.completed, .retryable] {
            plans.append((
                JobAckStatements.finish,
                [ids, leases, [String](repeating: state.rawValue, count: batch.count), none,
                 [Int64](repeating: 0, count: batch.count), fixture.queue, [Int32](repeating: 1, count: batch.count), "w"]))
        }
        plans.append((LeaseKeeper.renew, [ids, leases, Int64(30_000), fixture.queue]))
        for (statement, parameters) in plans {
            try connection.executeScript("BEGIN")
            let plan = try connection.query(explain + statement, parameters).rows
                .map { try $0.decode(0, as: String.self) }.joined(separator: "\n")
            try connection.executeScript("ROLLBACK")
            let batchScans = plan.split(separator: "\n").filter { $0.contains("Scan on outcome") || $0.contains("Function Scan on a ") }
            XCTAssertFalse(batchScans.isEmpty, plan)
            for scan in batchScans {
                XCTAssertTrue(scan.hasSuffix("loops=1)"), "the batch is scanned once per job row:\n\(plan)")
            }
        }
    }
}
