import Console
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The console's overview on a Citus cluster (issue 22): the worker registry
/// (`queue.workers`) stays an ordinary table on the coordinator, and the overview joins
/// it with the lease holders counted over every shard; the console reads it through
/// its viewer role, as which Citus must be able to reach the worker nodes
/// (sql/citus/0004_console_and_worker_registry.sql). On a single server the test skips
/// (ConsoleOperationsTests and WorkerRegistryTests cover the overview there).
final class CitusConsoleTests: XCTestCase {
    func testTheOverviewListsRegisteredWorkersAndLeaseHoldersFromEveryShardAsTheViewer() async throws {
        let connection = try TestDatabase.connect()
        guard try TestDatabase.isCitus else { throw XCTSkip(TestDatabase.singleServerSkipReason) }
        let fixture = try ConsoleFixture(refreshInterval: .seconds(60))
        defer { fixture.server.stop() }
        let registryPlacement = try connection.query(
            "SELECT count(*)::int8 FROM pg_dist_partition WHERE logicalrelid = 'queue.workers'::regclass"
        ).scalar(Int64.self)
        XCTAssertEqual(registryPlacement, 0, "queue.workers is an ordinary table on the coordinator, outside Citus' metadata")

        // A registered worker running a job in each of two queues (two shards), and a
        // lease holder that is not registered (a process of an older version).
        let worker = TestDatabase.uniqueName("citus-worker")
        let unregistered = TestDatabase.uniqueName("citus-holder")
        let queues = [TestDatabase.uniqueName("citus-mail"), TestDatabase.uniqueName("citus-sms")].sorted()
        try connection.query(
            """
            INSERT INTO queue.workers (id, host, pid, queues, slots, expires_at)
            VALUES ($1, 'host-9', 4242, $2, ARRAY[2, 2], now() + interval '5 minutes')
            """, [worker, queues])
        try connection.query(
            """
            INSERT INTO queue.jobs (kind, queue, state, attempt, leased_by, lease_id, lease_expires_at, attempted_at)
            SELECT 'console.test', q, 'running', 1, h, 1, now() + interval '5 minutes', now()
            FROM unnest($1::text[], $2::text[]) AS t(q, h)
            """, [queues + [queues[0]], [worker, worker, unregistered]])
        defer {
            _ = try? connection.query("DELETE FROM queue.jobs WHERE queue = ANY($1)", [queues])
            _ = try? connection.query("DELETE FROM queue.workers WHERE id = $1", [worker])
        }

        let overview = try await fixture.database.pool(for: .viewer).withConnection { try JobOverview.read(on: $0) }
        let listed = overview.workers.filter { $0.name == worker || $0.name == unregistered }
            .sorted { $0.name < $1.name }
        let evidence = "\(overview.workers)"
        let registered = try XCTUnwrap(listed.first { $0.name == worker }, "the registered worker is listed: \(evidence)")
        XCTAssertEqual(registered.queues.sorted(), queues, evidence)
        XCTAssertEqual(registered.runningJobs, 2, evidence)
        XCTAssertEqual(registered.host, "host-9", evidence)
        XCTAssertEqual(registered.pid, 4242, evidence)
        XCTAssertNotNil(registered.leaseExpiresAt, evidence)
        let holder = try XCTUnwrap(listed.first { $0.name == unregistered }, "the unregistered lease holder is listed: \(evidence)")
        XCTAssertEqual(holder.runningJobs, 1, evidence)
        XCTAssertEqual(holder.queues, [queues[0]], evidence)
        XCTAssertNil(holder.host, evidence)
        let perQueue = overview.queues.filter { queues.contains($0.name) }.map { "\($0.name) \($0.running)" }
        XCTAssertEqual(perQueue, ["\(queues[0]) 2", "\(queues[1]) 1"], "\(overview.queues)")

        // The console's page and its JSON read the same snapshot as the viewer.
        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        let page = try viewer.get("/")
        XCTAssertEqual(page.status, 200, page.body)
        XCTAssertTrue(page.body.contains(worker), page.body)
        let json = try viewer.get("/api/overview")
        XCTAssertEqual(json.status, 200, json.body)
        XCTAssertTrue(json.body.contains(unregistered), json.body)
    }
}
