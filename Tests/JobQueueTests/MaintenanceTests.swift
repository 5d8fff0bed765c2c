import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Staging and rescuing work queue by queue (so that on a Citus cluster each change runs
/// on one shard): every queue with work gets it done, and staging still wakes the
/// queue's listeners — on Citus the listeners on the coordinator, not on a shard's node.
final class MaintenanceTests: XCTestCase {
    func testStagingMovesDueJobsOfEveryQueueAndWakesEachQueueAtCommit() async throws {
        let first = try QueueFixture()
        let second = try QueueFixture()
        let listener = try TestDatabase.connect()
        try listener.listen(JobChannel.name)
        var due: [Int64] = []
        for fixture in [first, second] {
            let id = try await fixture.client.enqueue(fixture.request("test.stage", runAt: Date().addingTimeInterval(600))).id
            _ = try await fixture.pool.query("UPDATE queue.jobs SET run_at = now() - interval '1 second' WHERE id = $1", [id])
            due.append(id)
        }
        let later = try await first.client.enqueue(first.request("test.stage", runAt: Date().addingTimeInterval(600))).id

        let staged = try await JobMaintenance.stageDueJobs(on: first.pool)

        XCTAssertGreaterThanOrEqual(staged, 2)
        for id in due {
            let state = try await first.row(id).state
            XCTAssertEqual(state, "available")
        }
        let notDue = try await first.row(later).state
        XCTAssertEqual(notDue, "scheduled", "not due yet")
        var woken: Set<String> = []
        let deadline = ContinuousClock.now + .seconds(5)
        while !woken.isSuperset(of: [first.queue, second.queue]) && ContinuousClock.now < deadline {
            woken.formUnion(try listener.waitForNotifications(timeout: .milliseconds(200)).map(\.payload))
        }
        XCTAssertTrue(woken.isSuperset(of: [first.queue, second.queue]), "woken: \(woken.sorted())")
    }

    func testRescueHandsBackLapsedJobsOfEveryQueue() async throws {
        let first = try QueueFixture()
        let second = try QueueFixture()
        var lapsed: [Int64] = []
        for fixture in [first, second] {
            _ = try await fixture.client.enqueue(fixture.request("test.rescue", maxAttempts: 1))
            _ = try await fixture.client.enqueue(fixture.request("test.rescue"))
            let claimed = try await JobClaimer.claim(
                queue: fixture.queue, limit: 2, workerID: "vanished", lease: .seconds(30), on: fixture.pool)
            XCTAssertEqual(claimed.count, 2)
            _ = try await fixture.pool.query(
                "UPDATE queue.jobs SET lease_expires_at = now() - interval '1 second' WHERE queue = $1", [fixture.queue])
            lapsed += claimed.map(\.id)
        }

        let rescued = try await JobMaintenance.rescueLapsedLeases(on: first.pool)

        XCTAssertTrue(Set(rescued.map(\.id)).isSuperset(of: lapsed))
        for fixture in [first, second] {
            let counts = try await fixture.counts()
            XCTAssertEqual(counts, ["discarded": 1, "retryable": 1], "out of attempts: discarded")
        }
        let row = try await first.row(lapsed[0])
        XCTAssertEqual(row.errors.count, 1)
        XCTAssertTrue(row.errors[0].hasPrefix("lease expired"), row.errors[0])
    }
}
