import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A worker process stopped (SIGSTOP) while it holds jobs claimed ahead in its
/// buffer; their leases run out and another worker runs them; resumed, the first
/// must give them back instead of starting them.
final class StalledWorkerBufferTests: XCTestCase {
    func testBufferedJobsWhoseLeaseRanOutAreNotStartedAfterAStop() async throws {
        let fixture = try QueueFixture()
        let workers = try TestbedWorkers(queue: fixture.queue)
        try await fixture.createTestbedIntervals()
        let jobs = 400
        try await fixture.client.enqueue(
            Array(repeating: fixture.request("testbed.interval", #"{"holdMs": 5}"#, maxAttempts: 20), count: jobs))
        // Short jobs and room to claim ahead: the worker keeps a buffer of leased jobs.
        let stalled = try workers.start("stalled", ["--concurrency", "1", "--prefetch", "50", "--lease", "1"])
        let started = """
            SELECT count(*)::int8 FROM testbed_intervals i JOIN queue.jobs j ON j.id = i.job_id
            WHERE j.queue = $1 AND i.worker = $2
            """
        let heldAhead = """
            SELECT count(*)::int8 FROM queue.jobs WHERE queue = $1 AND state = 'running' AND leased_by = $2
            """
        var buffered: Int64 = 0
        let warm = try await fixture.eventually(timeout: .seconds(60)) {
            guard try await fixture.pool.query(started, [fixture.queue, "stalled"]).scalar(Int64.self) >= 40 else {
                return false
            }
            stalled.signal(SIGSTOP)
            buffered = try await fixture.pool.query(heldAhead, [fixture.queue, "stalled"]).scalar(Int64.self)
            if buffered > 1 { return true }
            stalled.signal(SIGCONT)
            return false
        }
        XCTAssertTrue(warm, "the worker was stopped holding jobs beyond the one it runs\n\(workers.logs())")

        // Its leases run out; another worker rescues and runs every remaining job.
        let rescuer = try workers.start("rescuer", ["--concurrency", "4", "--lease", "10"])
        // All but the job the stopped worker was running: stopped inside that job's
        // transaction, it holds the row locked until it resumes.
        let drained = try await fixture.eventually(timeout: .seconds(120)) {
            let counts = try await fixture.counts()
            return counts["completed", default: 0] >= jobs - 1 && counts.keys.allSatisfy { ["completed", "running"].contains($0) }
        }
        let counts = try await fixture.counts()
        XCTAssertTrue(drained, "\(counts)\n\(workers.logs())")
        let resumedAt = try await fixture.pool.query("SELECT clock_timestamp()").scalar(Date.self)
        stalled.signal(SIGCONT)
        let finishedAll = try await fixture.eventually(timeout: .seconds(60)) { try await fixture.counts() == ["completed": jobs] }
        let finalCounts = try await fixture.counts()
        XCTAssertTrue(finishedAll, "\(finalCounts)\n\(workers.logs())")
        let statuses = await workers.stop([stalled, rescuer])
        XCTAssertEqual(statuses, [0, 0], workers.logs())

        // Nothing was left to claim after the resume, so anything the stopped worker
        // started then came from its buffer, under a lease it had lost.
        let startedAfterResume = try await fixture.pool.query(
            """
            SELECT count(*)::int8 FROM testbed_intervals i JOIN queue.jobs j ON j.id = i.job_id
            WHERE j.queue = $1 AND i.worker = 'stalled' AND i.started_at >= $2
            """, [fixture.queue, resumedAt]
        ).scalar(Int64.self)
        XCTAssertEqual(startedAfterResume, 0, "\(buffered) jobs were held ahead; none started after the resume")
        let finished = try await fixture.pool.query(
            """
            SELECT count(DISTINCT i.job_id)::int8 FROM testbed_intervals i JOIN queue.jobs j ON j.id = i.job_id
            WHERE j.queue = $1 AND i.ended_at IS NOT NULL
            """, [fixture.queue]
        ).scalar(Int64.self)
        XCTAssertEqual(finished, Int64(jobs), "every job ran to completion once")
    }

    /// The server counts a lease from the claim statement's start, so a claim whose
    /// answer arrives late — here it waits on a lock for longer than the lease —
    /// hands the worker jobs whose lease has already run out, which a rescuer may be
    /// running by then. The worker must give such jobs back unstarted and run them under
    /// a lease of their own: the attempt that ran started within the lease it ran under.
    func testJobsWhoseLeaseRanOutWhileTheClaimWaitedAreNotStartedUnderIt() async throws {
        let fixture = try QueueFixture()
        let workers = try TestbedWorkers(queue: fixture.queue)
        try await fixture.createTestbedIntervals()
        let job = try await fixture.client.enqueue(fixture.request("testbed.interval", #"{"holdMs": 0}"#))

        // A claim draws its lease id from `queue.lease_seq` while it executes, after its
        // transaction (and so its lease) has started; an `ALTER SEQUENCE` left open holds
        // a lock that makes that wait. (A lock on the job table would hold the claim
        // before its transaction starts: a later start, a later lease.) NO CYCLE is the
        // sequence's setting already.
        let blocker = try TestDatabase.connect()
        _ = try blocker.query("BEGIN")
        _ = try blocker.query("ALTER SEQUENCE queue.lease_seq NO CYCLE")
        let worker = try workers.start("late-answer", ["--concurrency", "1", "--lease", "1"])
        let claimWaits = try await fixture.eventually(timeout: .seconds(30)) {
            try await fixture.pool.query(
                """
                SELECT count(*)::int8 FROM pg_stat_activity
                WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE SKIP LOCKED%' AND query LIKE '%lease_seq%'
                """
            ).scalar(Int64.self) > 0
        }
        XCTAssertTrue(claimWaits, "the worker's claim waits on the lock\n\(workers.logs())")
        // Longer than the 1 s lease the waiting claim will grant from its start.
        try await Task.sleep(for: .milliseconds(2_500))
        _ = try blocker.query("COMMIT")

        let completed = try await fixture.eventually(timeout: .seconds(30)) {
            try await fixture.counts() == ["completed": 1]
        }
        let counts = try await fixture.counts()
        XCTAssertTrue(completed, "\(counts)\n\(workers.logs())")
        let statuses = await workers.stop([worker])
        XCTAssertEqual(statuses, [0], workers.logs())

        // `attempted_at` is the start of the claim that granted the lease the job last
        // ran under (a job given back unstarted keeps no attempt of its own).
        let runs = try await fixture.pool.query(
            """
            SELECT i.attempt, extract(epoch FROM i.started_at - j.attempted_at)::float8
            FROM testbed_intervals i JOIN queue.jobs j ON j.id = i.job_id
            WHERE i.job_id = $1 ORDER BY i.started_at
            """, [job.id]
        ).rows.map { try $0.decode((Int32, Double).self) }
        XCTAssertEqual(runs.count, 1, "the job ran once: \(runs)\n\(workers.logs())")
        if let run = runs.last {
            XCTAssertLessThan(
                run.1, 1.0, "the handler started \(run.1) s into a 1 s lease\n\(workers.logs())")
        }
    }
}
