import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Coupon and points expiry with a fixed clock, run through real jobs.
final class ExpiryTests: XCTestCase {
    private func run<Arguments: JobArguments>(
        _ arguments: Arguments, _ fixture: PlatformFixture, clock: PlatformClock
    ) async throws {
        let services = PlatformServices(clock: clock, provider: RecordingProvider(), log: .silent)
        let id = try await JobQueueClient(database: fixture.pool).enqueue(
            try JobRequest(arguments, queue: PlatformJobs.maintenanceQueue)).id
        try await fixture.running(services) {
            _ = try await fixture.eventually {
                try await fixture.jobState(id) == .completed
            }
        }
        let state = try await fixture.jobState(id)
        XCTAssertEqual(state, .completed)
    }

    private func template(_ fixture: PlatformFixture, name: String) async throws -> Int64 {
        try await fixture.pool.query(
            "INSERT INTO platform.coupon_templates (name, discount_fen, valid_days) VALUES ($1, 1000, 30) RETURNING id",
            [name]
        ).scalar(Int64.self)
    }

    @discardableResult
    private func coupon(_ fixture: PlatformFixture, customer: Int64, template: Int64, until: Date) async throws -> Int64 {
        try await fixture.pool.query(
            """
            INSERT INTO platform.coupons (template_id, customer_id, valid_from, valid_until)
            VALUES ($1, $2, $3::timestamptz - interval '30 days', $3) RETURNING id
            """, [template, customer, until]
        ).scalar(Int64.self)
    }

    private func status(_ fixture: PlatformFixture, _ coupon: Int64) async throws -> String {
        try await fixture.pool.query("SELECT status FROM platform.coupons WHERE id = $1", [coupon]).scalar(String.self)
    }

    func testCouponsExpireExactlyAtTheirEndAndOnlyOnce() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let template = try await template(fixture, name: "满100减10")
        // A fixed "now" far in the future, so other tests' coupons do not interfere.
        let now = Date(timeIntervalSince1970: 4_000_000_000)
        let before = try await coupon(fixture, customer: customer.id, template: template, until: now.addingTimeInterval(-1))
        let exactly = try await coupon(fixture, customer: customer.id, template: template, until: now)
        let after = try await coupon(fixture, customer: customer.id, template: template, until: now.addingTimeInterval(1))
        try await run(ExpireCoupons(), fixture, clock: .fixed(now))
        let states = [
            try await status(fixture, before), try await status(fixture, exactly), try await status(fixture, after),
        ]
        XCTAssertEqual(states, ["expired", "expired", "active"])
        let expiredAt = try await fixture.pool.query(
            "SELECT expired_at FROM platform.coupons WHERE id = $1", [exactly]).scalar(Date.self)
        try await run(ExpireCoupons(), fixture, clock: .fixed(now.addingTimeInterval(0.5)))
        let again = try await fixture.pool.query(
            "SELECT expired_at FROM platform.coupons WHERE id = $1", [exactly]).scalar(Date.self)
        XCTAssertEqual(again, expiredAt, "a second run leaves expired coupons alone")
        let stillActive = try await status(fixture, after)
        XCTAssertEqual(stillActive, "active")
    }

    func testHoldersAreRemindedOnceWithAllTheirCouponsInOneMessage() async throws {
        let fixture = try PlatformFixture()
        let holder = try await fixture.customer()
        let other = try await fixture.customer()
        let cleaningCoupon = try await template(fixture, name: "保洁券")
        let windowCoupon = try await template(fixture, name: "擦玻璃券")
        let now = Date(timeIntervalSince1970: 4_100_000_000)
        let day: TimeInterval = 86_400
        try await coupon(fixture, customer: holder.id, template: cleaningCoupon, until: now.addingTimeInterval(2.5 * day))
        try await coupon(fixture, customer: holder.id, template: windowCoupon, until: now.addingTimeInterval(3 * day))
        try await coupon(fixture, customer: holder.id, template: windowCoupon, until: now.addingTimeInterval(5 * day))
        try await coupon(fixture, customer: other.id, template: windowCoupon, until: now.addingTimeInterval(2 * day))
        try await run(RemindExpiringCoupons(), fixture, clock: .fixed(now))
        try await run(RemindExpiringCoupons(), fixture, clock: .fixed(now.addingTimeInterval(60)))
        let notes = try await fixture.pool.query(
            "SELECT params->>'count', params->>'coupons' FROM platform.notifications WHERE recipient = $1",
            [holder.phone]
        ).rows.map { try $0.decode((String, String).self) }
        XCTAssertEqual(notes.count, 1, "one message per holder, and only once: \(notes)")
        XCTAssertEqual(notes.first?.0, "2")
        XCTAssertEqual(notes.first?.1, "保洁券、擦玻璃券")
        let otherNotes = try await fixture.notifications(to: other.phone)
        XCTAssertEqual(otherNotes.count, 0, "a coupon ending in 2 days was due yesterday's reminder")
    }

    func testPointsExpireThroughTheLedgerOldestFirst() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let shanghai = TimeZone(identifier: "Asia/Shanghai")!
        let formatter = ISO8601DateFormatter()
        let earned2024 = formatter.date(from: "2024-05-01T10:00:00+08:00")!
        let earned2025 = formatter.date(from: "2025-03-01T10:00:00+08:00")!
        XCTAssertEqual(
            ExpirePoints.validityEnd(earnedAt: earned2024, timeZone: shanghai),
            formatter.date(from: "2026-01-01T00:00:00+08:00"))
        for (delta, reason, at) in [(Int64(100), "earned", earned2024), (50, "earned", earned2025), (-30, "spent", earned2025)] {
            let expires: Date? = reason == "earned" ? ExpirePoints.validityEnd(earnedAt: at, timeZone: shanghai) : nil
            _ = try await fixture.pool.query(
                "INSERT INTO platform.points_ledger (customer_id, delta, reason, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
                [customer.id, delta, reason, expires, at])
        }
        _ = try await fixture.pool.query("UPDATE platform.customers SET points_balance = 120 WHERE id = $1", [customer.id])
        let now = formatter.date(from: "2026-06-01T00:00:00+08:00")!
        try await run(ExpirePoints(), fixture, clock: .fixed(now))
        try await run(ExpirePoints(), fixture, clock: .fixed(now.addingTimeInterval(3600)))
        let balance = try await fixture.pool.query(
            "SELECT points_balance FROM platform.customers WHERE id = $1", [customer.id]).scalar(Int64.self)
        XCTAssertEqual(balance, 50, "100 earned in 2024 minus the 30 spent (oldest first) expired: 70")
        let ledger = try await fixture.pool.query(
            "SELECT sum(delta)::int8, count(*) FILTER (WHERE reason = 'expired')::int8 FROM platform.points_ledger WHERE customer_id = $1",
            [customer.id]
        ).first!.decode((Int64, Int64).self)
        XCTAssertEqual(ledger.0, balance, "the ledger sums to the balance")
        XCTAssertEqual(ledger.1, 1, "expired once")
    }
}
