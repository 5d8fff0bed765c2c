import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Periodic jobs, queue concurrency limits and rate limits across real worker processes.
final class OperationsProcessTests: XCTestCase {
    func testEachCronTickIsEnqueuedOnceAcrossThreeWorkersEvenWhenTheLeaderDies() async throws {
        let fixture = try QueueFixture()
        let workers = try TestbedWorkers(queue: fixture.queue)
        let schedule = "tick-\(fixture.queue)|* * * * * *|testbed.noop"
        let flags = ["--cron", schedule, "--leader-interval", "0.2"]
        var processes = try (0..<3).map { try workers.start("cron\($0)", flags) }
        try await Task.sleep(for: .seconds(3))
        // Kill whoever leads; another process must take over after the lease lapses.
        let leader = try await fixture.pool.query(
            "SELECT holder FROM queue.leaders WHERE name = 'maintenance'").first?.decode(0, as: String.self)
        if let leader, let index = ["cron0", "cron1", "cron2"].firstIndex(of: leader) {
            processes[index].signal(SIGKILL)
            _ = await processes[index].wait()
            processes.remove(at: index)
        } else {
            XCTFail("no leader elected: \(String(describing: leader))\n\(workers.logs())")
        }
        try await Task.sleep(for: .seconds(6))
        let statuses = await workers.stop(processes)
        XCTAssertEqual(statuses, [0, 0], workers.logs())

        let ticks = try await fixture.pool.query(
            """
            SELECT count(*)::int8, count(DISTINCT run_at)::int8,
                   EXTRACT(EPOCH FROM max(run_at) - min(run_at))::float8
            FROM queue.jobs WHERE queue = $1 AND kind = 'testbed.noop'
            """, [fixture.queue]
        ).first!.decode((Int64, Int64, Double).self)
        XCTAssertEqual(ticks.0, ticks.1, "no fire time enqueued twice")
        XCTAssertGreaterThanOrEqual(ticks.0, 5, "ticks kept coming: \(ticks)\n\(workers.logs())")
        XCTAssertGreaterThan(ticks.2, 5, "and kept coming after the leader was killed: \(ticks)")
        // Every second between the first and last tick was enqueued, except what the
        // failover gap skipped (one lease, at most a few seconds, caught up once).
        XCTAssertGreaterThanOrEqual(Double(ticks.0), ticks.2 - 4, "\(ticks)")
        let schedules = try await JobAdministration(database: fixture.pool).schedules()
        XCTAssertNotNil(schedules.first { $0.name == "tick-\(fixture.queue)" }?.nextFireAt)
    }

    func testARateLimitHoldsUnderARaceOfEightProcesses() async throws {
        let fixture = try QueueFixture()
        let workers = try TestbedWorkers(queue: fixture.queue)
        let key = "phone-\(fixture.queue)"
        let jobs = 24
        try await fixture.client.enqueue(
            Array(repeating: fixture.request("testbed.limited", #"{"key": "\#(key)", "limit": 4, "windowMs": 1000}"#),
                  count: jobs))
        let processes = try (0..<8).map { try workers.start("rate\($0)", ["--concurrency", "4"]) }
        let done = try await fixture.eventually(timeout: .seconds(90)) { try await fixture.counts() == ["completed": jobs] }
        let statuses = await workers.stop(processes)
        let counts = try await fixture.counts()
        XCTAssertTrue(done, "\(counts)\n\(workers.logs())")
        XCTAssertEqual(statuses, Array(repeating: 0, count: 8))
        let worst = try await fixture.pool.mostPermitsInAnyWindow(key: key, interval: .seconds(1))
        XCTAssertLessThanOrEqual(worst, 4, "never more than 4 permits in any second")
        let permits = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM queue.rate_limit_permits WHERE key = $1", [key]).scalar(Int64.self)
        XCTAssertEqual(permits, Int64(jobs), "one permit per job: over-limit jobs were snoozed, not failed")
        let snoozedNotFailed = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM queue.jobs WHERE queue = $1 AND errors <> '[]'", [fixture.queue]
        ).scalar(Int64.self)
        XCTAssertEqual(snoozedNotFailed, 0)
    }

    func testAQueueLimitHoldsAcrossSixWorkerProcesses() async throws {
        let fixture = try QueueFixture()
        let workers = try TestbedWorkers(queue: fixture.queue)
        let limit = 3
        try await JobAdministration(database: fixture.pool).setConcurrencyLimit(fixture.queue, limit)
        // 6 processes × 2 slots = 12 places to run against a limit of 3, so filling the
        // limit takes claims from several processes; they poll every 50 ms besides the
        // NOTIFY, so claims from different processes keep racing for each freed place.
        let names = (0..<6).map { "limit\($0)" }
        let processes = try names.map { try workers.start($0, ["--concurrency", "2", "--poll-interval", "0.05"]) }
        let ready = try await fixture.eventually {
            names.allSatisfy { name in
                let log = (try? String(contentsOfFile: "\(workers.logFolder)/\(name).log", encoding: .utf8)) ?? ""
                return log.contains("worker started")
            }
        }
        XCTAssertTrue(ready, workers.logs())
        let jobs = 90
        try await fixture.client.enqueue(
            Array(repeating: fixture.request("testbed.interval", #"{"holdMs": 100}"#), count: jobs))
        let done = try await fixture.eventually(timeout: .seconds(120)) { try await fixture.counts() == ["completed": jobs] }
        let statuses = await workers.stop(processes)
        let counts = try await fixture.counts()
        XCTAssertTrue(done, "\(counts)\n\(workers.logs())")
        XCTAssertEqual(statuses, Array(repeating: 0, count: 6), workers.logs())

        let recorded = try await fixture.pool.query(
            """
            SELECT count(*)::int8, count(DISTINCT i.job_id)::int8, count(i.ended_at)::int8, count(DISTINCT i.worker)::int8
            FROM testbed_intervals i JOIN queue.jobs j ON j.id = i.job_id WHERE j.queue = $1
            """, [fixture.queue]
        ).first!.decode((Int64, Int64, Int64, Int64).self)
        XCTAssertEqual(recorded.0, Int64(jobs), "one interval per job, no attempt lost or repeated: \(recorded)")
        XCTAssertEqual(recorded.1, Int64(jobs))
        XCTAssertEqual(recorded.2, Int64(jobs), "every interval ended")
        XCTAssertGreaterThanOrEqual(recorded.3, 2, "jobs ran in more than one process: \(recorded)")
        // Jobs running at each start (the most at any instant is reached at a start).
        let peak = try await fixture.pool.query(
            """
            WITH runs AS (
                SELECT i.started_at, i.ended_at FROM testbed_intervals i JOIN queue.jobs j ON j.id = i.job_id
                WHERE j.queue = $1
            )
            SELECT COALESCE(max((SELECT count(*) FROM runs o
                                 WHERE o.started_at <= s.started_at AND o.ended_at > s.started_at)), 0)::int8
            FROM runs s
            """, [fixture.queue]
        ).scalar(Int64.self)
        XCTAssertLessThanOrEqual(peak, Int64(limit), "never more than the queue's limit at once, across processes")
        XCTAssertGreaterThanOrEqual(peak, 2, "and still several at once")
    }
}
