import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// A worker process whose database URL goes through PgBouncer in transaction mode.
final class PooledWorkerTests: XCTestCase {
    /// Without a direct `--listen-url` it cannot LISTEN: it says so when it starts,
    /// holds no LISTEN anywhere, and its polling still runs every job exactly once.
    func testAPooledWorkerWithoutAListenURLPollsAndSaysSo() async throws {
        guard let pooledURL = try TestDatabase.pgbouncerURL() else {
            throw XCTSkip("pgbouncer is not installed (apt-get install pgbouncer): the PgBouncer test did not run")
        }
        let fixture = try QueueFixture()
        let workers = try TestbedWorkers(queue: fixture.queue)
        try await fixture.createTestbedEffects()
        let jobs = 200
        try await fixture.client.enqueue(Array(repeating: fixture.request("testbed.effect"), count: jobs))
        let worker = try workers.start(
            "pooled", ["--database-url", pooledURL, "--pooling", "transaction", "--concurrency", "4"])
        let done = try await fixture.eventually(timeout: .seconds(120)) {
            try await fixture.counts() == ["completed": jobs]
        }
        let listeners = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM pg_stat_activity WHERE application_name = $1",
            ["queue-testbed" + JobWorker.listenSessionNameSuffix]
        ).scalar(Int64.self)
        let statuses = await workers.stop([worker])
        let counts = try await fixture.counts()
        XCTAssertTrue(done, "\(counts)\n\(workers.logs())")
        XCTAssertEqual(statuses, [0], workers.logs())
        XCTAssertEqual(listeners, 0, "no LISTEN through the pooler")
        XCTAssertTrue(workers.logs(lastLines: 1000).contains("polling only"), workers.logs())
        let (rows, distinct) = try await fixture.pool.query(
            """
            SELECT count(*)::int8, count(DISTINCT e.job_id)::int8
            FROM testbed_effects e JOIN queue.jobs j ON j.id = e.job_id WHERE j.queue = $1
            """, [fixture.queue]
        ).first!.decode((Int64, Int64).self)
        XCTAssertEqual(rows, Int64(jobs), "each job's effect exactly once")
        XCTAssertEqual(distinct, Int64(jobs))
    }
}
