import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A payout run whose worker process is killed half way, then resumed by another.
final class PayoutCrashTests: XCTestCase {
    func testKillingTheWorkerHalfWayNeitherPaysTwiceNorSkipsAnyone() async throws {
        let fixture = try PlatformFixture()
        let period = try PlatformFixture.uniquePayoutPeriod()
        let customer = try await fixture.customer().id
        let cleaners = 120
        // Cleaners with two completed orders each, loaded directly (statuses valid on insert).
        let inserted = try await fixture.pool.withTransaction { connection -> Int in
            var count = 0
            for index in 0..<cleaners {
                let cleaner = try connection.query(
                    """
                    INSERT INTO platform.cleaners (phone, name, latitude, longitude, level)
                    VALUES ($1, '王五', 31.2, 121.4, $2) RETURNING id
                    """, [PlatformFixture.phone(), ["新手", "熟练", "金牌"][index % 3]]
                ).scalar(Int64.self)
                for order in 0..<2 {
                    let amount = Int64(10_000 + index * 7 + order)
                    try connection.execute(
                        """
                        INSERT INTO platform.orders (customer_id, cleaner_id, service_type_id, address, latitude, longitude,
                            appointment_start, duration_minutes, status, amount_fen, paid_fen, completed_at)
                        VALUES ($1, $2, 1, 'x', 31, 121, $3, 60, '已完成', $4, $4, $3)
                        """, [customer, cleaner, period.start.addingTimeInterval(Double(3600 + order)), amount])
                    count += 1
                }
            }
            return count
        }
        XCTAssertEqual(inserted, cleaners * 2)
        let connection = try TestDatabase.connect()
        let run = try PayoutRun.start(period, on: connection)
        XCTAssertEqual(run.cleanerJobs, cleaners)

        let logs = NSTemporaryDirectory() + TestDatabase.uniqueName("payout-crash")
        func worker(_ name: String) throws -> ChildProcess {
            try ChildProcess(
                executable: try TestDatabase.executable("queue-worker"),
                arguments: ["--queues", "payouts=4", "--lease", "2", "--poll-interval", "0.2", "--worker-id", name],
                environment: ["DATABASE_URL": try TestDatabase.url], outputPath: "\(logs)-\(name).log")
        }
        let first = try worker("first")
        let halfWay = try await fixture.eventually(timeout: .seconds(60)) {
            try connection.query(
                "SELECT count(*)::int8 FROM platform.payout_items WHERE run_id = $1 AND status = 'paid'", [run.runID]
            ).scalar(Int64.self) >= 20
        }
        XCTAssertTrue(halfWay)
        first.signal(SIGKILL)
        _ = await first.wait()
        let paidAtKill = try connection.query(
            "SELECT count(*)::int8 FROM platform.payout_items WHERE run_id = $1 AND status = 'paid'", [run.runID]
        ).scalar(Int64.self)
        XCTAssertLessThan(paidAtKill, Int64(cleaners), "the kill landed half way")

        // Finance runs the command again; a new worker picks up.
        let again = try PayoutRun.start(period, on: connection)
        XCTAssertEqual(again.runID, run.runID)
        XCTAssertEqual(again.cleanerJobs, 0, "nothing enqueued twice")
        let second = try worker("second")
        let done = try await fixture.eventually(timeout: .seconds(120)) { try PayoutRun.isComplete(run.runID, on: connection) }
        second.signal(SIGTERM)
        let status = await second.wait(timeout: .seconds(30))
        XCTAssertTrue(done)
        XCTAssertEqual(status, 0)

        let check = try connection.query(
            """
            SELECT (SELECT count(*) FROM platform.payout_items WHERE run_id = $1)::int8,
                   (SELECT count(*) FROM platform.payout_items WHERE run_id = $1 AND status = 'paid')::int8,
                   (SELECT count(*) FROM platform.ledger_transactions t JOIN platform.payout_items i
                        ON t.reference = 'payout:' || i.id WHERE i.run_id = $1)::int8,
                   (SELECT count(*) FROM platform.ledger_transactions t JOIN platform.payout_items i
                        ON t.reference = 'settlement:' || i.id WHERE i.run_id = $1)::int8,
                   (SELECT count(*) FROM platform.order_settlements o JOIN platform.payout_items i ON i.id = o.payout_item_id
                        WHERE i.run_id = $1)::int8,
                   (SELECT COALESCE(sum(orders), 0) FROM platform.payout_items WHERE run_id = $1)::int8
            """, [run.runID]
        ).first!.decode((Int64, Int64, Int64, Int64, Int64, Int64).self)
        XCTAssertEqual(check.0, Int64(cleaners), "a line for every cleaner: nobody skipped")
        XCTAssertEqual(check.1, Int64(cleaners), "every line paid")
        XCTAssertEqual(check.2, Int64(cleaners), "one payout transaction per cleaner: nobody paid twice")
        XCTAssertEqual(check.3, Int64(cleaners), "one settlement per cleaner")
        XCTAssertEqual(check.4, Int64(cleaners * 2), "every order settled")
        XCTAssertEqual(check.5, Int64(cleaners * 2), "and counted once")
        let unbalanced = try connection.query(
            "SELECT count(*)::int8 FROM (SELECT transaction_id FROM platform.ledger_entries GROUP BY 1 HAVING sum(amount_fen) <> 0) t"
        ).scalar(Int64.self)
        XCTAssertEqual(unbalanced, 0)
    }
}
