import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// A queue set to delete its completed jobs (`keep_completed` false): a completion
/// deletes the row, unless a batch or a unique key kept `always` still needs it; failed
/// jobs keep theirs; fencing holds; queues left at the default keep every row.
final class DeleteOnCompleteTests: XCTestCase {
    private func deletingQueue() async throws -> QueueFixture {
        let fixture = try QueueFixture()
        try await JobAdministration(database: fixture.pool).setKeepCompleted(fixture.queue, false)
        return fixture
    }

    private func claim(_ fixture: QueueFixture, limit: Int, worker: String = "w") async throws -> [ClaimedJob] {
        try await JobClaimer.claim(
            queue: fixture.queue, limit: limit, workerID: worker, lease: .seconds(60), on: fixture.pool)
    }

    /// Writes outcomes the way a worker does (one batched statement) and returns how
    /// many were applied and fenced.
    private func acknowledge(
        _ outcomes: [JobOutcome], on fixture: QueueFixture, worker: String = "w"
    ) async -> (applied: Int, fenced: Int) {
        let acknowledger = JobAcknowledger(
            database: fixture.pool, workerID: worker, log: .silent, outage: DatabaseOutage(log: .silent))
        for outcome in outcomes { await acknowledger.submit(outcome) }
        await acknowledger.drain(timeout: .seconds(30))
        return (await acknowledger.appliedCount, await acknowledger.fencedCount)
    }

    private func rows(_ fixture: QueueFixture) async throws -> String {
        try await fixture.pool.query(
            "SELECT id, kind, state, batch_id, unique_key, unique_scope FROM queue.jobs WHERE queue = $1 ORDER BY id",
            [fixture.queue]
        ).rows.map { row in
            let (id, kind, state, batch, key, scope) = try row.decode((Int64, String, String, String?, String?, String).self)
            return "\(id) \(kind) \(state) batch=\(batch ?? "-") key=\(key ?? "-")/\(scope)"
        }.joined(separator: "\n")
    }

    func testTheSettingIsShownAndDefaultsToKeep() async throws {
        let fixture = try QueueFixture()
        let administration = JobAdministration(database: fixture.pool)
        try await administration.setPaused(fixture.queue, false)
        var summary = try await administration.queues().first { $0.name == fixture.queue }
        XCTAssertEqual(summary?.keepCompleted, true)
        try await administration.setKeepCompleted(fixture.queue, false)
        summary = try await administration.queues().first { $0.name == fixture.queue }
        XCTAssertEqual(summary?.keepCompleted, false)
        XCTAssertEqual(summary?.paused, false, "setting retention leaves the other settings alone")
    }

    /// Statistics and the dashboard's overview cannot count completions that left no
    /// row: they say the queue does not keep them instead of reporting zero done.
    func testStatisticsAndTheOverviewSayWhichQueuesDoNotKeepCompletions() async throws {
        let deleting = try await deletingQueue()
        let keeping = try QueueFixture()
        for fixture in [deleting, keeping] {
            _ = try await fixture.client.enqueue(fixture.request("test.done"))
            let jobs = try await claim(fixture, limit: 1)
            let written = await acknowledge(jobs.map { JobOutcome(lease: $0.lease, attempt: $0.attempt, result: .completed) }, on: fixture)
            XCTAssertEqual(written.applied, 1)
        }
        let statistics = try await JobAdministration(database: deleting.pool).statistics()
        let kept = statistics.first { $0.queue == keeping.queue }
        XCTAssertEqual(kept?.keepsCompleted, true, "\(statistics)")
        XCTAssertEqual(kept?.completedLastMinute, 1, "\(statistics)")
        // The deleting queue has no rows left at all, so it is not listed; give it a waiting job.
        _ = try await deleting.client.enqueue(deleting.request("test.waiting"))
        let withWaiting = try await JobAdministration(database: deleting.pool).statistics()
        XCTAssertEqual(withWaiting.first { $0.queue == deleting.queue }?.keepsCompleted, false, "\(withWaiting)")
        let overview = try await deleting.pool.withConnection { try JobOverview.read(on: $0) }
        let flags = overview.queues.filter { [deleting.queue, keeping.queue].contains($0.name) }
            .map { "\($0.name) \($0.keepsCompleted)" }.sorted()
        XCTAssertEqual(flags, ["\(deleting.queue) false", "\(keeping.queue) true"].sorted(), "\(overview.queues)")
    }

    func testCompletedJobsAreDeletedAndFailedOnesKept() async throws {
        let fixture = try await deletingQueue()
        _ = try await fixture.client.enqueue((0..<4).map { _ in fixture.request("test.delete") })
        let jobs = try await claim(fixture, limit: 4)
        XCTAssertEqual(jobs.count, 4)
        let results: [JobOutcome.Result] = [
            .completed, .completed, .discarded(error: "bad input"), .retry(at: Date().addingTimeInterval(3600), error: "later"),
        ]
        let written = await acknowledge(
            zip(jobs, results).map { JobOutcome(lease: $0.lease, attempt: $0.attempt, result: $1) }, on: fixture)
        XCTAssertEqual(written.applied, 4, "a deletion is an applied completion")
        XCTAssertEqual(written.fenced, 0)
        let counts = try await fixture.counts()
        let evidence = try await rows(fixture)
        XCTAssertEqual(counts, ["discarded": 1, "retryable": 1], evidence)
    }

    /// Its batch's callback counts the members by state, so a member keeps its row.
    /// (Batches are single-server only: Citus refuses them at enqueue.)
    func testABatchMemberStaysCompleted() async throws {
        let fixture = try await deletingQueue()
        let batch = TestDatabase.uniqueName("batch")
        let member = try await fixture.client.enqueue(
            JobRequest(kind: "test.member", queue: fixture.queue, batchID: batch)).id
        let loose = try await fixture.client.enqueue(fixture.request("test.loose")).id
        let jobs = try await claim(fixture, limit: 2)
        XCTAssertEqual(Set(jobs.map(\.id)), [member, loose])
        let written = await acknowledge(
            jobs.map { JobOutcome(lease: $0.lease, attempt: $0.attempt, result: .completed) }, on: fixture)
        XCTAssertEqual(written.applied, 2)
        let remaining = try await fixture.counts()
        let memberState = try await fixture.row(member).state
        let evidence = try await rows(fixture)
        XCTAssertEqual(memberState, "completed", evidence)
        XCTAssertEqual(remaining, ["completed": 1], "the job outside the batch is deleted:\n\(evidence)")
    }

    /// A unique key kept `always` is held by the completed row, so that row stays; a
    /// key kept while `active` is free at completion, so its job is deleted.
    func testAJobWhoseUniqueKeyIsKeptAlwaysStaysCompleted() async throws {
        let fixture = try await deletingQueue()
        let always = TestDatabase.uniqueName("always")
        let active = TestDatabase.uniqueName("active")
        let kept = try await fixture.client.enqueue(
            JobRequest(kind: "test.key", queue: fixture.queue, uniqueKey: always, uniqueScope: .always)).id
        let released = try await fixture.client.enqueue(
            JobRequest(kind: "test.key", queue: fixture.queue, uniqueKey: active, uniqueScope: .active)).id
        let jobs = try await claim(fixture, limit: 2)
        XCTAssertEqual(Set(jobs.map(\.id)), [kept, released])
        let written = await acknowledge(
            jobs.map { JobOutcome(lease: $0.lease, attempt: $0.attempt, result: .completed) }, on: fixture)
        XCTAssertEqual(written.applied, 2)

        let keptState = try await fixture.row(kept).state
        let remaining = try await fixture.counts()
        let evidence = try await rows(fixture)
        XCTAssertEqual(keptState, "completed", evidence)
        XCTAssertEqual(remaining, ["completed": 1], "the job with an `active` key is deleted:\n\(evidence)")

        // The `always` key is still taken: enqueueing it again returns the kept job.
        let again = try await fixture.client.enqueue(
            JobRequest(kind: "test.key", queue: fixture.queue, uniqueKey: always, uniqueScope: .always))
        XCTAssertEqual(again.id, kept)
    }

    /// A dependency deleted at completion releases its dependent, as a pruned one does.
    /// (Dependencies are single-server only: Citus refuses them at enqueue.)
    func testADependentRunsAfterItsDependencyWasDeleted() async throws {
        let fixture = try await deletingQueue()
        let first = try await fixture.client.enqueue(fixture.request("test.first")).id
        let second = try await fixture.client.enqueue(
            JobRequest(kind: "test.second", queue: fixture.queue, dependsOn: [first])).id
        let claimed = try await claim(fixture, limit: 10)
        XCTAssertEqual(claimed.map(\.id), [first], "the dependent waits")
        _ = await acknowledge(
            claimed.map { JobOutcome(lease: $0.lease, attempt: $0.attempt, result: .completed) }, on: fixture)
        var remaining = try await fixture.counts()
        var evidence = try await rows(fixture)
        XCTAssertEqual(remaining, ["pending": 1], evidence)

        _ = try await WorkflowResolver.resolve(on: fixture.pool, workflows: true)
        let secondState = try await fixture.row(second).state
        evidence = try await rows(fixture)
        XCTAssertEqual(secondState, "available", evidence)
        let next = try await claim(fixture, limit: 10)
        XCTAssertEqual(next.map(\.id), [second])
        _ = await acknowledge(
            next.map { JobOutcome(lease: $0.lease, attempt: $0.attempt, result: .completed) }, on: fixture)
        remaining = try await fixture.counts()
        evidence = try await rows(fixture)
        XCTAssertEqual(remaining, [:], evidence)
    }

    /// A worker stalls past its lease; the job is rescued, claimed and completed (so
    /// deleted) by another worker. The stale worker's late outcomes are refused and
    /// write nothing back: the job does not reappear.
    func testAStaleOutcomeAfterRescueAndDeletionIsRefused() async throws {
        let fixture = try await deletingQueue()
        let id = try await fixture.client.enqueue(fixture.request("test.fence")).id
        let staleClaims = try await claim(fixture, limit: 1, worker: "stalled")
        let stale = try XCTUnwrap(staleClaims.first)
        _ = try await fixture.pool.query(
            "UPDATE queue.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [id])
        let rescued = try await JobMaintenance.rescueLapsedLeases(on: fixture.pool)
        XCTAssertTrue(rescued.contains { $0.id == id }, "rescued: \(rescued)")
        _ = try await fixture.pool.query("UPDATE queue.jobs SET run_at = now() WHERE id = $1", [id])
        _ = try await JobMaintenance.stageDueJobs(on: fixture.pool)
        let currentClaims = try await claim(fixture, limit: 1, worker: "healthy")
        let current = try XCTUnwrap(currentClaims.first)
        XCTAssertEqual(current.id, id)
        let completed = await acknowledge(
            [JobOutcome(lease: current.lease, attempt: current.attempt, result: .completed)], on: fixture,
            worker: "healthy")
        XCTAssertEqual(completed.applied, 1)
        var remaining = try await fixture.counts()
        var evidence = try await rows(fixture)
        XCTAssertEqual(remaining, [:], evidence)

        let late = await acknowledge(
            [.completed, .retry(at: Date(), error: "late"), .discarded(error: "late"), .snoozed(until: Date())].map {
                JobOutcome(lease: stale.lease, attempt: stale.attempt, result: $0)
            }, on: fixture, worker: "stalled")
        XCTAssertEqual(late.applied, 0)
        XCTAssertEqual(late.fenced, 4)
        let context = JobContext(
            job: stale, database: fixture.pool, workerID: "stalled", log: .silent, completion: CompletionMarker())
        do {
            try await context.completeInTransaction { _ in }
            XCTFail("a stale in-transaction completion must be refused")
        } catch JobQueueError.leaseLost(let jobID) {
            XCTAssertEqual(jobID, id)
        }
        remaining = try await fixture.counts()
        evidence = try await rows(fixture)
        XCTAssertEqual(remaining, [:], "nothing written back:\n\(evidence)")
    }

    /// The handler's own transaction deletes the job with its effects; on a queue left
    /// at the default it stays `completed`.
    func testCompletionInTheHandlersTransactionFollowsTheQueue() async throws {
        for keep in [false, true] {
            let fixture = try QueueFixture()
            try await JobAdministration(database: fixture.pool).setKeepCompleted(fixture.queue, keep)
            let id = try await fixture.client.enqueue(fixture.request("test.tx")).id
            let claims = try await claim(fixture, limit: 1)
            let job = try XCTUnwrap(claims.first)
            let marker = TestDatabase.uniqueName("effect")
            let context = JobContext(
                job: job, database: fixture.pool, workerID: "w", log: .silent, completion: CompletionMarker())
            try await context.completeInTransaction { connection in
                try connection.execute("SELECT set_config('application_name', $1, true)", [marker])
            }
            let remaining = try await fixture.counts()
            let evidence = try await rows(fixture)
            XCTAssertEqual(remaining, keep ? ["completed": 1] : [:], "keep=\(keep): \(evidence)")
            if keep {
                let state = try await fixture.row(id).state
                XCTAssertEqual(state, "completed")
            }
        }
    }

    /// A running worker on a deleting queue: every job ends deleted, and the worker's
    /// metrics still count each as completed.
    func testAWorkerDeletesCompletedJobsAndCountsThemInItsMetrics() async throws {
        let fixture = try await deletingQueue()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { arguments, _ in
            if arguments.number < 0 { throw JobDiscarded("negative") }
        }
        try await fixture.client.enqueue(
            try (0..<12).map { try JobRequest(Payload(number: $0 - 2, label: ""), queue: fixture.queue) })
        let worker = try fixture.worker(handlers) { $0.rescueInterval = .seconds(3600) }
        let text = try await worker.running { () -> String in
            let drained = try await fixture.eventually { try await fixture.counts() == ["discarded": 2] }
            let counts = try await fixture.counts()
            let evidence = try await rows(fixture)
            XCTAssertTrue(drained, "not drained: \(counts)\n\(evidence)")
            return await worker.metricsText()
        }
        let completedLine = text.split(separator: "\n").first {
            $0.hasPrefix("queue_worker_jobs_total{") && $0.contains("outcome=\"completed\"")
                && $0.contains("kind=\"\(Payload.kind)\"")
        }
        XCTAssertEqual(completedLine?.split(separator: " ").last, "10", "metrics:\n\(text)")
    }
}
