import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// On a Citus cluster (`scripts/test.sh --citus`), the statements a worker runs for
/// every job — claim, heartbeat, lease check, batched and in-transaction completion (updating
/// or deleting the job) —
/// and the per-queue housekeeping changes (staging, rescuing lapsed leases) are planned
/// for one shard: every step of Citus' plan shows `Task Count: 1`, on one shard. A
/// change that makes one of them fan out to every shard (or that Citus refuses to plan)
/// fails here. On a single server the tests skip, saying how to run them.
final class CitusRoutingTests: XCTestCase {
    /// The plan Citus makes for `statement` with these parameters (not executed).
    private func plan(
        _ statement: String, _ parameters: [any PostgresEncodable], on fixture: QueueFixture
    ) async throws -> String {
        try await fixture.pool.query("EXPLAIN " + statement, parameters).rows
            .map { try $0.decode(0, as: String.self) }.joined(separator: "\n")
    }

    /// Every distributed step of the plan (the claim has a few: its lease id comes from
    /// the coordinator) runs one task, all on the same shard.
    private func assertOneShard(_ plan: String, _ statement: String, file: StaticString = #filePath, line: UInt = #line) {
        let lines = plan.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let taskCounts = lines.filter { $0.hasPrefix("Task Count:") }
        let shards = Set(lines.compactMap { line in
            line.range(of: #"jobs_\d+"#, options: .regularExpression).map { String(line[$0]) }
        })
        XCTAssertFalse(taskCounts.isEmpty, "\(statement): not a distributed plan:\n\(plan)", file: file, line: line)
        XCTAssertEqual(
            Set(taskCounts), ["Task Count: 1"], "\(statement) is not routed to one shard:\n\(plan)", file: file, line: line)
        XCTAssertEqual(shards.count, 1, "\(statement) touches shards \(shards.sorted()):\n\(plan)", file: file, line: line)
    }

    func testQueueJobsIsDistributedOnTheQueue() async throws {
        let fixture = try await QueueFixture.onCitus()
        let column = try await fixture.pool.query("""
            SELECT column_to_column_name(logicalrelid, partkey) FROM pg_dist_partition
            WHERE logicalrelid = 'queue.jobs'::regclass
            """).first?.decode(0, as: String.self)
        XCTAssertEqual(column, "queue")
        let shards = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM pg_dist_shard WHERE logicalrelid = 'queue.jobs'::regclass"
        ).first?.decode(0, as: Int64.self)
        XCTAssertGreaterThan(shards ?? 0, 1)
    }

    func testClaimHeartbeatAndCompletionStatementsRunOnOneShard() async throws {
        let fixture = try await QueueFixture.onCitus()
        let claim: [any PostgresEncodable] = [fixture.queue, "worker", Int64(30_000), Int64(0x5eed)]
        assertOneShard(try await plan(JobClaimer.claimStatement(limit: 10), claim, on: fixture), "claim")
        assertOneShard(
            try await plan(JobClaimer.claimWithinLimitStatement(limit: 10), claim, on: fixture), "claim within a limit")

        let ids: [Int64] = [1, 2]
        let leases: [Int64] = [7, 8]
        assertOneShard(
            try await plan(JobAckStatements.completeOne, [Int64(1), Int64(7), fixture.queue], on: fixture),
            "in-transaction completion")
        assertOneShard(
            try await plan(LeaseKeeper.renew, [ids, leases, Int64(30_000), fixture.queue], on: fixture), "heartbeat")
        assertOneShard(
            try await plan(JobContext.leaseHeld, [Int64(1), Int64(7), fixture.queue], on: fixture), "lease check")
    }

    /// Every kind of outcome in one batch: the statement with its clock and JSON values.
    func testBatchedAcknowledgementRunsOnOneShard() async throws {
        let fixture = try await QueueFixture.onCitus()
        let outcomes: [any PostgresEncodable] = [
            [Int64(1), 2, 3, 4], [Int64(7), 7, 7, 7], ["completed", "retryable", "scheduled", "discarded"],
            [nil, "failed", nil, "bad input"] as [String?], [nil, Int64(1_000), Int64(2_000), nil] as [Int64?],
            fixture.queue, [Int32(1), 2, 1, 3], "worker",
        ]
        assertOneShard(try await plan(JobAckStatements.finish, outcomes, on: fixture), "batched acknowledgement")
    }

    /// On a queue that deletes its completed jobs, the acknowledgement's `DELETE` (and
    /// its read of the queue's setting in the reference table) stays on the queue's shard.
    func testDeletingCompletionsRunOnOneShard() async throws {
        let fixture = try await QueueFixture.onCitus()
        try await JobAdministration(database: fixture.pool).setKeepCompleted(fixture.queue, false)
        let outcomes: [any PostgresEncodable] = [
            [Int64(1), 2], [Int64(7), 7], ["completed", "discarded"], [nil, "bad input"] as [String?],
            [nil, nil] as [Int64?], fixture.queue, [Int32(1), 1], "worker",
        ]
        let batched = try await plan(JobAckStatements.finish, outcomes, on: fixture)
        XCTAssertTrue(batched.contains("Delete on jobs_"), "the plan deletes on the shard:\n\(batched)")
        assertOneShard(batched, "batched acknowledgement deleting completed jobs")
        let single = try await plan(JobAckStatements.completeOne, [Int64(1), Int64(7), fixture.queue], on: fixture)
        XCTAssertTrue(single.contains("Delete on jobs_"), "the plan deletes on the shard:\n\(single)")
        assertOneShard(single, "in-transaction completion deleting the job")
    }

    func testStagingAndRescueRunOnOneShardPerQueue() async throws {
        let fixture = try await QueueFixture.onCitus()
        let perQueue: [any PostgresEncodable] = [JobMaintenance.batchSize, fixture.queue]
        assertOneShard(try await plan(JobMaintenance.stage, perQueue, on: fixture), "staging")
        assertOneShard(try await plan(JobMaintenance.rescue, perQueue, on: fixture), "rescue of lapsed leases")
    }

    /// The check above can fail: a statement without the queue is planned on every shard.
    func testAStatementWithoutTheQueueFansOut() async throws {
        let fixture = try await QueueFixture.onCitus()
        let plan = try await plan("SELECT 1 FROM queue.jobs WHERE id = $1", [Int64(1)], on: fixture)
        XCTAssertTrue(plan.contains("Task Count: 32"), plan)
    }
}
