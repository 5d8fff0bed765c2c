import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// `queue-testbed verdict`, which scripts/chaos.sh trusts for its three testbed runs:
/// it passes a clean run and fails each broken rule, from the database and metrics.
final class TestbedVerdictTests: XCTestCase {
    private struct Verdict {
        var status: Int32
        var output: String
    }

    private func verdict(_ queue: String, jobs: Int, _ extra: [String] = [], in folder: String) async throws -> Verdict {
        try await testbed(["verdict", "--queue", queue, "--jobs", "\(jobs)"] + extra, in: folder)
    }

    private func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    private func testbed(_ arguments: [String], in folder: String) async throws -> Verdict {
        let output = folder + "/testbed-\(TestDatabase.uniqueName("t")).out"
        let process = try ChildProcess(
            executable: try TestDatabase.executable("queue-testbed"), arguments: arguments,
            environment: ["DATABASE_URL": try TestDatabase.url], outputPath: output)
        let status = await process.wait(timeout: .seconds(60)) ?? -99
        return Verdict(status: status, output: (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    /// What the chaos orchestrator polls: a queue's progress and a worker's held attempts.
    func testProgressAndHeldAttemptsAreReadThroughTheEngine() async throws {
        let fixture = try QueueFixture()
        let folder = NSTemporaryDirectory()
        let ids = try await fixture.client.enqueue([
            fixture.request("test.progress"), fixture.request("test.progress"), fixture.request("test.other"),
        ]).map(\.id)
        _ = try await fixture.pool.query(
            "UPDATE queue.jobs SET state = 'running', attempt = 2, leased_by = 'w-held', lease_id = 1, "
                + "lease_expires_at = now() + interval '1 minute' WHERE id = $1", [ids[0]])
        _ = try await fixture.pool.query(
            "UPDATE queue.jobs SET state = 'completed', attempt = 1, finalized_at = now() WHERE id = $1", [ids[2]])

        var run = try await testbed(["progress", "--queue", fixture.queue], in: folder)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(
            run.output.hasPrefix("jobs=3 completed=1 active=2 unfinished=2 retried=1 with_errors=0 leader="), run.output)
        run = try await testbed(["progress", "--queue", fixture.queue, "--kind", "test.other"], in: folder)
        XCTAssertTrue(run.output.hasPrefix("jobs=1 completed=1 active=0 unfinished=0"), run.output)

        run = try await testbed(["held", "--queue", fixture.queue, "--worker", "w-held"], in: folder)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertEqual(run.output, "w-held \(ids[0]) 2\n")
        run = try await testbed(["held", "--queue", fixture.queue, "--worker", "nobody"], in: folder)
        XCTAssertEqual(run.output, "")
        run = try await testbed(["held", "--queue", fixture.queue], in: folder)
        XCTAssertEqual(run.status, 64, run.output)
    }

    func testPassesACleanRunAndFailsEachBrokenRule() async throws {
        let fixture = try QueueFixture()
        try await fixture.createTestbedEffects()
        let workers = try TestbedWorkers(queue: fixture.queue)
        let folder = workers.logFolder
        try await fixture.client.enqueue(Array(repeating: fixture.request("testbed.effect"), count: 12))
        let worker = try workers.start("verdict-w1")
        let done = try await fixture.eventually { try await fixture.counts() == ["completed": 12] }
        let statuses = await workers.stop([worker])
        XCTAssertEqual(statuses, [0])
        XCTAssertTrue(done, workers.logs())

        var run = try await verdict(fixture.queue, jobs: 12, in: folder)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.hasPrefix("completed=12 lost=0 duplicated=0 stuck_running=0"), run.output)
        XCTAssertTrue(run.output.contains(" PASS"), run.output)

        run = try await verdict(fixture.queue, jobs: 13, in: folder)
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertTrue(run.output.contains("failure: 12 job rows for 13 enqueued"), run.output)
        XCTAssertTrue(run.output.contains("lost=1"), run.output)

        // A second effect row for one job: duplicated.
        let effect = try await fixture.pool.query(
            "SELECT e.job_id, e.attempt FROM testbed_effects AS e JOIN queue.jobs AS j ON j.id = e.job_id "
                + "WHERE j.queue = $1 ORDER BY 1 LIMIT 1", [fixture.queue])
        let first = try XCTUnwrap(try effect.first?.decode((Int64, Int32).self))
        _ = try await fixture.pool.query(
            "INSERT INTO testbed_effects (job_id, attempt, worker) VALUES ($1, $2, 'ghost')", [first.0, first.1 + 1])
        run = try await verdict(fixture.queue, jobs: 12, in: folder)
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertTrue(run.output.contains("duplicated=1"), run.output)
        XCTAssertTrue(run.output.contains("failure: 1 effect rows beyond one per job"), run.output)
        _ = try await fixture.pool.query("DELETE FROM testbed_effects WHERE worker = 'ghost'")

        // A stalled worker held two attempts: one wrote its effect, the other was stale.
        let held = folder + "/held.txt"
        try write("verdict-w1 \(first.0) \(first.1)\nstalled \(first.0) \(first.1 + 1)\n", to: held)
        let scrape = folder + "/stalled.metrics"
        try write(
            "queue_worker_fenced_outcomes_total{at=\"run\"} 0\nqueue_worker_fenced_outcomes_total{at=\"write\"} 0\n",
            to: scrape)
        run = try await verdict(fixture.queue, jobs: 12, ["--held", held, "--metrics", scrape], in: folder)
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertTrue(run.output.contains("held=2 stale=1 fenced=0"), run.output)
        XCTAssertTrue(run.output.contains("failure: 1 stale attempts but the stalled workers count 0"), run.output)

        try write("queue_worker_fenced_outcomes_total{at=\"run\"} 1\n", to: scrape)
        run = try await verdict(fixture.queue, jobs: 12, ["--held", held, "--metrics", scrape], in: folder)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("held=2 stale=1 fenced=1 PASS"), run.output)

        // Nothing stale: fencing was not exercised.
        try write("verdict-w1 \(first.0) \(first.1)\n", to: held)
        run = try await verdict(fixture.queue, jobs: 12, ["--held", held, "--metrics", scrape], in: folder)
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertTrue(run.output.contains("fencing was not exercised"), run.output)
    }
}
