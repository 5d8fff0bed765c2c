import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Real worker processes (`queue-testbed work`) started, stopped and killed.
final class WorkerProcessTests: XCTestCase {
    /// Effects of this queue's jobs: (rows, distinct jobs).
    private func effects(_ fixture: QueueFixture) async throws -> (Int64, Int64) {
        try await fixture.pool.query(
            """
            SELECT count(*)::int8, count(DISTINCT e.job_id)::int8
            FROM testbed_effects e JOIN queue.jobs j ON j.id = e.job_id WHERE j.queue = $1
            """, [fixture.queue]
        ).first!.decode((Int64, Int64).self)
    }

    func testEightWorkerProcessesRunEveryJobExactlyOnce() async throws {
        let fixture = try QueueFixture()
        let workers = try TestbedWorkers(queue: fixture.queue)
        try await fixture.createTestbedEffects()
        let jobs = Int(ProcessInfo.processInfo.environment["QUEUE_TEST_JOBS"] ?? "") ?? 20_000
        var remaining = jobs
        while remaining > 0 {
            let size = min(remaining, 10_000)
            try await fixture.client.enqueue(Array(repeating: fixture.request("testbed.effect"), count: size))
            remaining -= size
        }
        let processes = try (0..<8).map { try workers.start("w\($0)", ["--concurrency", "4"]) }
        let done = try await fixture.eventually(timeout: .seconds(300)) {
            try await fixture.counts() == ["completed": jobs]
        }
        let statuses = await workers.stop(processes)
        let counts = try await fixture.counts()
        XCTAssertTrue(done, "\(counts)\n\(workers.logs())")
        XCTAssertEqual(statuses, Array(repeating: 0, count: 8), "every worker exits 0 on SIGTERM\n\(workers.logs())")
        let (rows, distinct) = try await effects(fixture)
        XCTAssertEqual(rows, Int64(jobs), "each job's effect exactly once")
        XCTAssertEqual(distinct, Int64(jobs))
    }

    func testAKilledWorkersJobsAreRescuedAndTheirEffectsHappenOnce() async throws {
        let fixture = try QueueFixture()
        let workers = try TestbedWorkers(queue: fixture.queue)
        try await fixture.createTestbedEffects()
        let jobs = 60
        try await fixture.client.enqueue(
            Array(repeating: fixture.request("testbed.effect", #"{"sleepMs": 400}"#), count: jobs))
        let doomed = try workers.start("doomed", ["--concurrency", "10", "--lease", "2"])
        let busy = try await fixture.eventually { try await fixture.counts()["running", default: 0] >= 10 }
        XCTAssertTrue(busy, workers.logs())
        doomed.signal(SIGKILL)
        let status = await doomed.wait()
        XCTAssertEqual(status, 128 + SIGKILL)
        let orphans = try await fixture.counts()["running", default: 0]
        XCTAssertGreaterThan(orphans, 0, "the kill left jobs running")

        let rescuer = try workers.start("rescuer", ["--concurrency", "10", "--lease", "2"])
        let done = try await fixture.eventually(timeout: .seconds(120)) {
            try await fixture.counts() == ["completed": jobs]
        }
        let rescuerStatus = await workers.stop([rescuer])
        let counts = try await fixture.counts()
        XCTAssertTrue(done, "\(counts)\n\(workers.logs())")
        XCTAssertEqual(rescuerStatus, [0])
        let (rows, distinct) = try await effects(fixture)
        XCTAssertEqual(rows, Int64(jobs), "no effect lost, none doubled")
        XCTAssertEqual(distinct, Int64(jobs))
        let rescued = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM queue.jobs WHERE queue = $1 AND attempt = 2 AND errors::text LIKE '%lease expired%'",
            [fixture.queue]
        ).scalar(Int64.self)
        XCTAssertEqual(rescued, Int64(orphans), "each orphan was rescued as a counted attempt")
    }

    func testSigtermLetsRunningJobsFinishAndExitsZero() async throws {
        let fixture = try QueueFixture()
        let workers = try TestbedWorkers(queue: fixture.queue)
        try await fixture.createTestbedIntervals()
        try await fixture.client.enqueue(Array(repeating: fixture.request("testbed.interval", #"{"holdMs": 700}"#), count: 5))
        try await fixture.client.enqueue(
            Array(repeating: fixture.request("testbed.sleep", #"{"ms": 700}"#, runAt: Date().addingTimeInterval(3600)),
                  count: 3))
        let worker = try workers.start("graceful", ["--concurrency", "5"])
        // All five handlers started (claimed is not enough: a job claimed but not yet
        // started when the stop comes goes back to the queue unstarted, by design).
        let busy = try await fixture.eventually {
            try await fixture.pool.query(
                "SELECT count(*)::int8 FROM testbed_intervals i JOIN queue.jobs j ON j.id = i.job_id WHERE j.queue = $1",
                [fixture.queue]
            ).scalar(Int64.self) == 5
        }
        XCTAssertTrue(busy, workers.logs())
        let status = await workers.stop([worker])
        XCTAssertEqual(status, [0], workers.logs())
        let counts = try await fixture.counts()
        XCTAssertEqual(counts, ["completed": 5, "scheduled": 3])
        XCTAssertTrue(workers.logs().contains("shutting down"), workers.logs())
    }

    func testBadCommandLinesFailWithAReason() async throws {
        let cases: [([String], String)] = [
            (["work", "--concurrency", "0"], "--concurrency must be a whole number from 1"),
            (["work", "--queues", "a=x"], "--queues a= must be a whole number"),
            (["work", "--queues", "a="], "--queues a= must be a whole number"),
            (["work", "--queues", "=4"], "needs a queue name of 1 to 100 characters"),
            (["work", "--database-url", "postgresql://u:hunter2@localhost/db"], "must not contain a password"),
            (["work", "--listen-url", "postgresql://u:hunter2@localhost/db"], "--listen-url must not contain a password"),
            (["work", "--pooling", "statement"], "--pooling \"statement\" must be session"),
            (["work", "--frobnicate"], "unknown option --frobnicate"),
            (["enqueue"], "--kind is required"),
        ]
        for (arguments, expected) in cases {
            let output = NSTemporaryDirectory() + TestDatabase.uniqueName("testbed-cli") + ".log"
            let process = try ChildProcess(
                executable: try TestDatabase.executable("queue-testbed"), arguments: arguments, outputPath: output)
            let status = await process.wait(timeout: .seconds(30))
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            XCTAssertEqual(status, 64, "\(arguments): \(text)")
            XCTAssertTrue(text.contains(expected), "\(arguments): \(text)")
            XCTAssertFalse(text.contains("hunter2"), "the password is never echoed")
        }
    }
}
