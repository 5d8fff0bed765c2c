@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// A claim commits without waiting for its WAL flush (`JobClaimer`): the setting is
/// the claim transaction's own and never outlives it on the pooled connection, whose
/// next transaction (a completion, an enqueue) must stay durable.
final class ClaimCommitTests: XCTestCase {
    func testTheClaimAloneCommitsWithoutAFlushAndThePooledConnectionStaysDurable() async throws {
        let fixture = try QueueFixture()
        let pool = PostgresPool(configuration: fixture.configuration, maxConnections: 1)
        let before = try await pool.query("SELECT current_setting('synchronous_commit')").scalar(String.self)
        XCTAssertNotEqual(before, "off", "the test server must commit synchronously for this test to mean anything")
        let ids = try await fixture.client.enqueue([fixture.request("test.claim"), fixture.request("test.claim")]).map(\.id)
        let parameters: [any PostgresEncodable] = [fixture.queue, "claim-commit-test", Int64(30_000), Int64(0x5eed)]

        let (claimedInTransaction, settingInTransaction) = try await pool.withTransaction { connection in
            let claimed = try connection.query(JobClaimer.claimStatement(limit: 1), parameters).rows.count
            let setting = try connection.query("SELECT current_setting('synchronous_commit')").scalar(String.self)
            return (claimed, setting)
        }
        XCTAssertEqual(claimedInTransaction, 1)
        XCTAssertEqual(settingInTransaction, "off", "the claim's own transaction commits without waiting for the flush")

        let claimed = try await JobClaimer.claim(
            queue: fixture.queue, limit: 5, workerID: "claim-commit-test", lease: .seconds(30), on: pool)
        XCTAssertEqual(claimed.count, 1, "the second job")
        let after = try await pool.query("SELECT current_setting('synchronous_commit')").scalar(String.self)
        XCTAssertEqual(after, before, "the same pooled connection's next transaction is durable again")
        let states = try await fixture.pool.query(
            "SELECT state FROM queue.jobs WHERE id = ANY($1) ORDER BY id", [ids]
        ).rows.map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(states, ["running", "running"], "both claims committed")
    }
}
