import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

final class TierTests: XCTestCase {
    private func tier(_ fixture: PlatformFixture, _ customer: Int64) async throws -> (String, Int64) {
        try await fixture.pool.query(
            """
            SELECT t.name, c.growth_value FROM platform.customers AS c JOIN platform.member_tiers AS t ON t.id = c.tier_id
            WHERE c.id = $1
            """, [customer]
        ).first!.decode((String, Int64).self)
    }

    /// A completed order inserted directly (valid on insert) with the given paid amount.
    private func order(
        _ fixture: PlatformFixture, customer: Int64, cleaner: Int64, paid: Int64, completed: Date, refunded: Int64 = 0,
        status: String = "已完成"
    ) async throws {
        _ = try await fixture.pool.query(
            """
            INSERT INTO platform.orders (customer_id, cleaner_id, service_type_id, address, latitude, longitude,
                appointment_start, duration_minutes, status, amount_fen, paid_fen, refunded_fen, completed_at, cancelled_at)
            VALUES ($1, $2, 1, 'x', 31, 121, $3, 60, $5, $4, $4, $6, CASE WHEN $5 = '已完成' THEN $3 END,
                    CASE WHEN $5 = '已取消' THEN $3 END)
            """, [customer, cleaner, completed, paid, status, refunded])
    }

    private func recalculate(_ fixture: PlatformFixture, now: Date) async throws {
        let id = try await JobQueueClient(database: fixture.pool).enqueue(
            try JobRequest(RecalculateTiers(), queue: PlatformJobs.maintenanceQueue)).id
        try await fixture.running(PlatformServices(clock: .fixed(now), provider: RecordingProvider(), log: .silent)) {
            _ = try await fixture.eventually {
                try await fixture.jobState(id) == .completed
            }
        }
    }

    func testBoundariesWindowEdgesAndExclusions() async throws {
        let fixture = try PlatformFixture()
        let cleaner = try await fixture.cleaner().id
        let now = ISO8601DateFormatter().date(from: "2026-11-23T02:00:00+08:00")!
        let yearAgo = Calendar(identifier: .gregorian).date(byAdding: .month, value: -12, to: now)!
        // Exactly at 白银's threshold: 1 000 yuan = 100 000 fen.
        let silver = try await fixture.customer().id
        try await order(fixture, customer: silver, cleaner: cleaner, paid: 100_000, completed: now.addingTimeInterval(-3600))
        // One fen short: ⌊99 999 / 100⌋ = 999 → 普通.
        let justShort = try await fixture.customer().id
        try await order(fixture, customer: justShort, cleaner: cleaner, paid: 99_999, completed: now.addingTimeInterval(-3600))
        // Window edges: exactly 12 months ago is outside, one second later inside.
        let edge = try await fixture.customer().id
        try await order(fixture, customer: edge, cleaner: cleaner, paid: 100_000, completed: yearAgo)
        try await order(fixture, customer: edge, cleaner: cleaner, paid: 50_000, completed: yearAgo.addingTimeInterval(1))
        // Refunded and cancelled orders count 0; activity points count.
        let mixed = try await fixture.customer().id
        try await order(fixture, customer: mixed, cleaner: cleaner, paid: 900_000, completed: now.addingTimeInterval(-60), refunded: 900_000)
        try await order(fixture, customer: mixed, cleaner: cleaner, paid: 900_000, completed: now.addingTimeInterval(-60), status: "已取消")
        try await order(fixture, customer: mixed, cleaner: cleaner, paid: 250_050, completed: now.addingTimeInterval(-60))
        _ = try await fixture.pool.query("UPDATE platform.customers SET activity_points = 2500 WHERE id = $1", [mixed])

        try await recalculate(fixture, now: now)
        let silverTier = try await tier(fixture, silver)
        XCTAssertEqual(silverTier.0, "白银")
        XCTAssertEqual(silverTier.1, 1_000)
        let shortTier = try await tier(fixture, justShort)
        XCTAssertEqual(shortTier.0, "普通")
        XCTAssertEqual(shortTier.1, 999)
        let edgeTier = try await tier(fixture, edge)
        XCTAssertEqual(edgeTier.1, 500, "the order exactly 12 months old is out of the window")
        let mixedTier = try await tier(fixture, mixed)
        XCTAssertEqual(mixedTier.1, 2_500 + 2_500, "⌊250 050 / 100⌋ + activity; refunded and cancelled count 0")
        XCTAssertEqual(mixedTier.0, "黄金")

        // The change's message goes out: its dispatch job (arguments built by the database) runs.
        let mixedPhone = try await fixture.pool.query(
            "SELECT phone FROM platform.customers WHERE id = $1", [mixed]).scalar(String.self)
        let sent = try await fixture.running(PlatformServices(clock: .fixed(now), provider: RecordingProvider(), log: .silent)) {
            try await fixture.eventually { try await fixture.notifications(to: mixedPhone).map(\.1) == ["sent"] }
        }
        XCTAssertTrue(sent)

        // Run again with the same inputs: no change, no second notification.
        let notificationsBefore = try await fixture.notifications(to: mixedPhone)
        try await recalculate(fixture, now: now)
        let changes = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM platform.tier_changes WHERE customer_id = ANY($1::int8[])",
            [[silver, justShort, edge, mixed]]
        ).scalar(Int64.self)
        XCTAssertEqual(changes, 2, "silver and mixed changed once")
        let notificationsAfter = try await fixture.notifications(to: mixedPhone)
        XCTAssertEqual(notificationsBefore.count, 1)
        XCTAssertEqual(notificationsAfter.count, 1)

        // A year later the orders left the window: the nightly run downgrades.
        try await recalculate(fixture, now: Calendar(identifier: .gregorian).date(byAdding: .month, value: 13, to: now)!)
        let downgraded = try await tier(fixture, silver)
        XCTAssertEqual(downgraded.0, "普通")
        let reasons = try await fixture.pool.query(
            "SELECT reason FROM platform.tier_changes WHERE customer_id = $1 ORDER BY id", [silver]
        ).rows.map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(reasons, ["nightly_recalculation", "nightly_recalculation"])
    }

    func testCompletingAnOrderUpgradesAtOnceButNeverDowngrades() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.cleaner().id
        let now = Date()
        try await fixture.pool.withTransaction { connection in
            let id = try OrderBooking.book(
                OrderBooking.NewOrder(
                    customerID: customer.id, serviceTypeID: 3, address: "x", latitude: 31, longitude: 121,
                    appointmentStart: now.addingTimeInterval(-7200), durationMinutes: 60, amountFen: 520_000),
                now: now.addingTimeInterval(-86_400), on: connection)
            try OrderBooking.assign(orderID: id, cleanerID: cleaner, now: now.addingTimeInterval(-80_000), on: connection)
            try OrderBooking.start(orderID: id, now: now.addingTimeInterval(-3600), on: connection)
            try OrderBooking.complete(orderID: id, now: now, on: connection)
        }
        try await fixture.running(PlatformServices(clock: .system, provider: RecordingProvider(), log: .silent)) {
            _ = try await fixture.eventually { try await self.tier(fixture, customer.id).0 == "黄金" }
        }
        let upgraded = try await tier(fixture, customer.id)
        XCTAssertEqual(upgraded.0, "黄金", "5 200 growth ≥ 5 000")
        // An upgrade-only run never lowers a tier, even when growth fell.
        _ = try await fixture.pool.query("UPDATE platform.orders SET refunded_fen = paid_fen WHERE customer_id = $1", [customer.id])
        _ = try await fixture.pool.withTransaction { connection in
            try connection.enqueue(try JobRequest(UpgradeTierArguments(customerID: customer.id)))
        }
        try await fixture.running(PlatformServices(clock: .system, provider: RecordingProvider(), log: .silent)) {
            _ = try await fixture.eventually { try await fixture.unfinishedJobs() == 0 }
        }
        let after = try await tier(fixture, customer.id)
        XCTAssertEqual(after.0, "黄金")
    }
}

struct UpgradeTierArguments: JobArguments {
    static let kind = "tier.upgrade"
    var customerID: Int64
}
