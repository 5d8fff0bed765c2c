import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Periodic jobs and rate limits across real worker processes.
final class OperationsProcessTests: XCTestCase {
    private var logFolder = ""

    override func setUp() async throws {
        logFolder = NSTemporaryDirectory() + TestDatabase.uniqueName("ops-logs")
        try FileManager.default.createDirectory(atPath: logFolder, withIntermediateDirectories: true)
    }

    private func startWorker(_ fixture: QueueFixture, _ extra: [String], name: String) throws -> ChildProcess {
        try ChildProcess(
            executable: try TestDatabase.executable("queue-testbed"),
            arguments: ["work", "--queues", fixture.queue, "--poll-interval", "0.2", "--worker-id", name] + extra,
            environment: ["DATABASE_URL": try TestDatabase.url], outputPath: "\(logFolder)/\(name).log")
    }

    private func logs() -> String {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: logFolder)) ?? []
        return names.sorted().map { name in
            let text = (try? String(contentsOfFile: "\(logFolder)/\(name)", encoding: .utf8)) ?? ""
            return "== \(name)\n" + text.split(separator: "\n").suffix(10).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    private func stop(_ workers: [ChildProcess]) async -> [Int32] {
        workers.forEach { $0.signal(SIGTERM) }
        var statuses: [Int32] = []
        for worker in workers { statuses.append(await worker.wait(timeout: .seconds(30)) ?? -99) }
        return statuses
    }

    func testEachCronTickIsEnqueuedOnceAcrossThreeWorkersEvenWhenTheLeaderDies() async throws {
        let fixture = try QueueFixture()
        let schedule = "tick-\(fixture.queue)|* * * * * *|testbed.noop"
        let flags = ["--cron", schedule, "--leader-interval", "0.2"]
        var workers = try (0..<3).map { try startWorker(fixture, flags, name: "cron\($0)") }
        try await Task.sleep(for: .seconds(3))
        // Kill whoever leads; another process must take over after the lease lapses.
        let leader = try await fixture.pool.query(
            "SELECT holder FROM queue.leaders WHERE name = 'maintenance'").first?.decode(0, as: String.self)
        if let leader, let index = ["cron0", "cron1", "cron2"].firstIndex(of: leader) {
            workers[index].signal(SIGKILL)
            _ = await workers[index].wait()
            workers.remove(at: index)
        } else {
            XCTFail("no leader elected: \(String(describing: leader))\n\(logs())")
        }
        try await Task.sleep(for: .seconds(6))
        let statuses = await stop(workers)
        XCTAssertEqual(statuses, [0, 0], logs())

        let ticks = try await fixture.pool.query(
            """
            SELECT count(*)::int8, count(DISTINCT run_at)::int8,
                   EXTRACT(EPOCH FROM max(run_at) - min(run_at))::float8
            FROM queue.jobs WHERE queue = $1 AND kind = 'testbed.noop'
            """, [fixture.queue]
        ).first!.decode((Int64, Int64, Double).self)
        XCTAssertEqual(ticks.0, ticks.1, "no fire time enqueued twice")
        XCTAssertGreaterThanOrEqual(ticks.0, 5, "ticks kept coming: \(ticks)\n\(logs())")
        XCTAssertGreaterThan(ticks.2, 5, "and kept coming after the leader was killed: \(ticks)")
        // Every second between the first and last tick was enqueued, except what the
        // failover gap skipped (one lease, at most a few seconds, caught up once).
        XCTAssertGreaterThanOrEqual(Double(ticks.0), ticks.2 - 4, "\(ticks)")
        let schedules = try await JobAdministration(database: fixture.pool).schedules()
        XCTAssertNotNil(schedules.first { $0.name == "tick-\(fixture.queue)" }?.nextFireAt)
    }

    func testARateLimitHoldsUnderARaceOfEightProcesses() async throws {
        let fixture = try QueueFixture()
        _ = try await fixture.pool.query(
            "CREATE TABLE IF NOT EXISTS testbed_effects (job_id bigint NOT NULL, attempt integer NOT NULL, "
                + "worker text NOT NULL, at timestamptz NOT NULL DEFAULT now())")
        let key = "phone-\(fixture.queue)"
        let jobs = 24
        try await fixture.client.enqueue(
            Array(repeating: fixture.request("testbed.limited", #"{"key": "\#(key)", "limit": 4, "windowMs": 1000}"#),
                  count: jobs))
        let workers = try (0..<8).map { try startWorker(fixture, ["--concurrency", "4"], name: "rate\($0)") }
        let done = try await fixture.eventually(timeout: .seconds(90)) { try await fixture.counts() == ["completed": jobs] }
        let statuses = await stop(workers)
        let counts = try await fixture.counts()
        XCTAssertTrue(done, "\(counts)\n\(logs())")
        XCTAssertEqual(statuses, Array(repeating: 0, count: 8))
        // For every permit, the permits in the window ending at it never exceed the limit.
        let worst = try await fixture.pool.query(
            """
            SELECT COALESCE(max(n), 0)::int8 FROM (
                SELECT (SELECT count(*) FROM queue.rate_limit_permits q
                        WHERE q.key = p.key AND q.taken_at > p.taken_at - interval '1 second'
                          AND q.taken_at <= p.taken_at) AS n
                FROM queue.rate_limit_permits p WHERE p.key = $1) AS windows
            """, [key]
        ).scalar(Int64.self)
        XCTAssertLessThanOrEqual(worst, 4, "never more than 4 permits in any second")
        let permits = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM queue.rate_limit_permits WHERE key = $1", [key]).scalar(Int64.self)
        XCTAssertEqual(permits, Int64(jobs), "one permit per job: over-limit jobs were snoozed, not failed")
        let snoozedNotFailed = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM queue.jobs WHERE queue = $1 AND errors <> '[]'", [fixture.queue]
        ).scalar(Int64.self)
        XCTAssertEqual(snoozedNotFailed, 0)
    }
}
