import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The registry of worker processes: an idle worker is listed with its queues and
/// process, renews its row on its heartbeat, and removes it when it stops; a
/// process that died (its row expired) is not listed and the leader prunes it.
final class WorkerRegistryTests: XCTestCase {
    private func registered(_ id: String, _ fixture: QueueFixture) async throws -> (queues: [String], pid: Int32, started: Date, seen: Date)? {
        try await fixture.pool.query(
            "SELECT queues, pid, started_at, seen_at FROM queue.workers WHERE id = $1", [id]
        ).first?.decode(([String], Int32, Date, Date).self)
    }

    private func overviewWorker(_ id: String, _ fixture: QueueFixture) async throws -> JobOverview.Worker? {
        try await fixture.pool.withConnection { try JobOverview.read(on: $0) }.workers.first { $0.name == id }
    }

    func testAnIdleWorkerIsListedRenewsItsRowAndRemovesItWhenItStops() async throws {
        let fixture = try QueueFixture()
        let worker = try fixture.worker(JobHandlerRegistry(), concurrency: 3) { settings in
            settings.heartbeatInterval = .milliseconds(200)
            settings.runsLeaderServices = false
        }
        let id = worker.configuration.workerID
        try await worker.running {
            let listed = try await fixture.eventually { try await self.registered(id, fixture) != nil }
            XCTAssertTrue(listed, "the worker registers when it starts")
            let row = try await registered(id, fixture)
            XCTAssertEqual(row?.queues, [fixture.queue])
            XCTAssertEqual(row?.pid, ProcessInfo.processInfo.processIdentifier)
            let renewed = try await fixture.eventually {
                guard let row = try await self.registered(id, fixture) else { return false }
                return row.seen > row.started
            }
            XCTAssertTrue(renewed, "the heartbeat renews the row")
            let shown = try await overviewWorker(id, fixture)
            XCTAssertEqual(shown?.queues, [fixture.queue], "the overview lists the idle worker")
            XCTAssertEqual(shown?.runningJobs, 0)
            XCTAssertNil(shown?.leaseExpiresAt, "it holds no lease")
            XCTAssertEqual(shown?.pid, Int(ProcessInfo.processInfo.processIdentifier))
        }
        let afterStop = try await registered(id, fixture)
        XCTAssertNil(afterStop, "a clean shutdown removes the row")
    }

    func testADeadWorkersRowIsNotListedAndIsPruned() async throws {
        let fixture = try QueueFixture()
        let dead = TestDatabase.uniqueName("dead-worker")
        try await fixture.pool.query(
            """
            INSERT INTO queue.workers (id, host, pid, queues, slots, started_at, seen_at, expires_at)
            VALUES ($1, 'gone-host', 4242, ARRAY[$2], ARRAY[4], now() - interval '1 hour', now() - interval '10 minutes',
                    now() - interval '9 minutes')
            """, [dead, fixture.queue])
        let shown = try await overviewWorker(dead, fixture)
        XCTAssertNil(shown, "an expired row is a dead process")
        let pruned = try await WorkerRegistry.pruneDead(on: fixture.pool)
        XCTAssertGreaterThanOrEqual(pruned, 1)
        let row = try await registered(dead, fixture)
        XCTAssertNil(row, "pruned")
    }
}
