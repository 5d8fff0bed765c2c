import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// `PayoutRunAudit` (`jobsctl payouts audit`, which scripts/chaos.sh trusts for its
/// payout run): a correct run passes; each kind of damage is named.
final class PayoutRunAuditTests: XCTestCase {
    func testACorrectRunPassesAndDamageIsNamed() async throws {
        let fixture = try PlatformFixture()
        let period = try PlatformFixture.uniquePayoutPeriod()
        let customer = try await fixture.customer().id
        let novice = try await fixture.cleaner(level: "新手")
        let gold = try await fixture.cleaner(level: "金牌")
        let inPeriod = period.start.addingTimeInterval(2 * 86_400)
        let first = try await fixture.completedOrder(customer: customer, cleaner: novice, paid: 15_000, at: inPeriod)
        try await fixture.completedOrder(customer: customer, cleaner: gold, paid: 10_000, at: inPeriod)
        _ = try await fixture.pool.query(
            "INSERT INTO platform.reviews (order_id, rating, comment, created_at) VALUES ($1, 5::int2, '很干净', $2)",
            [first, inPeriod])

        let connection = try TestDatabase.connect()
        let started = try PayoutRun.start(period, on: connection)
        let services = PlatformServices(provider: RecordingProvider(), payouts: RecordingPayouts(), log: .silent)
        try await fixture.running(services) {
            _ = try await fixture.eventually(timeout: .seconds(60)) { try PayoutRun.isComplete(started.runID, on: connection) }
        }
        let lines = try PayoutRun.lines(started.runID, on: connection)
        let report = NSTemporaryDirectory() + TestDatabase.uniqueName("payout-report") + ".csv"
        defer { try? FileManager.default.removeItem(atPath: report) }
        try PayoutReport.csv(lines).write(toFile: report, atomically: true, encoding: .utf8)

        var audit = try PayoutRunAudit.of(period, reports: [report], on: connection)
        XCTAssertEqual(audit.failures, [])
        XCTAssertEqual(audit.lines, 2)
        XCTAssertEqual(audit.expectedLines, 2)
        XCTAssertEqual(audit.ordersSettledOnce, 2)
        // 15000 − 25 % + 500 bonus; 10000 − 15 %.
        XCTAssertEqual(audit.paidFen, 15_000 - 3_750 + 500 + 10_000 - 1_500)

        // A report that disagrees with the run.
        try PayoutReport.csv(Array(lines.dropLast())).write(toFile: report, atomically: true, encoding: .utf8)
        audit = try PayoutRunAudit.of(period, reports: [report], on: connection)
        XCTAssertEqual(audit.failures, ["1 report(s) differ from the run's lines: \(report)"])

        // A paid line without the provider's reference.
        _ = try await fixture.pool.query(
            "UPDATE platform.payout_items SET provider_reference = NULL WHERE run_id = $1 AND cleaner_id = $2",
            [started.runID, gold])
        audit = try PayoutRunAudit.of(period, on: connection)
        XCTAssertEqual(audit.failures, ["1 lines with something to pay have no provider reference (never sent)"])

        // An order completed in the week that the run did not settle: the recomputed
        // line differs and the order is counted as not settled.
        try await fixture.completedOrder(customer: customer, cleaner: gold, paid: 4_000, at: inPeriod)
        audit = try PayoutRunAudit.of(period, on: connection)
        XCTAssertTrue(audit.failures.contains("1 lines differ from the figures computed from the orders, reviews and complaints"),
                      "\(audit.failures)")
        XCTAssertTrue(audit.failures.contains("2 of 3 completed orders of the week settled by a line of this run; 1 not"),
                      "\(audit.failures)")
    }

    func testAWeekWithoutARunFails() throws {
        let period = try PlatformFixture.uniquePayoutPeriod()
        let audit = try PayoutRunAudit.of(period, on: try TestDatabase.connect())
        XCTAssertTrue(audit.failures.contains("0 payout runs for the period"), "\(audit.failures)")
        XCTAssertTrue(audit.failures.contains("the payout run's status is 'missing'"), "\(audit.failures)")
    }
}
