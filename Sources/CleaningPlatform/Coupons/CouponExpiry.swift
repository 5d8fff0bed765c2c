import Foundation
public import JobQueue
import PostgresClient

/// Expires coupons whose validity ended: set-based, in bounded batches (short
/// transactions), idempotent (an expired coupon is not touched again). A coupon
/// is valid while now < valid_until; at valid_until it is expired.
public struct ExpireCoupons: JobArguments {
    public static let kind = "coupon.expire"
    public init() {}

    static let expireBatch = """
        UPDATE platform.coupons SET status = 'expired', expired_at = $1
        WHERE id IN (SELECT id FROM platform.coupons WHERE status = 'active' AND valid_until <= $1 LIMIT $2
                     FOR UPDATE SKIP LOCKED)
        """

    static let batchSize: Int64 = 5_000

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        var total = 0
        while true {
            let expired = try await context.database.withConnection { connection in
                try connection.execute(Self.expireBatch, [now, Self.batchSize])
            }
            total += expired
            if expired < Self.batchSize { break }
        }
        services.log.info("coupons expired", [("count", "\(total)")])
    }
}

/// Reminds holders once, 3 days before their coupons end: one message per holder
/// per day listing all their coupons that end in that day's window, never one
/// per coupon. Each coupon is marked reminded in the same transaction that queues
/// the message, so a second run sends nothing.
public struct RemindExpiringCoupons: JobArguments {
    public static let kind = "coupon.expiry_reminder"
    public init() {}

    /// Coupons ending in `($3, $4]`: between 2 and 3 business-calendar days from
    /// now `$1` (a daily run covers each once).
    static let due = """
        WITH picked AS (
            SELECT id FROM platform.coupons
            WHERE status = 'active' AND reminded_at IS NULL
              AND valid_until > $3 AND valid_until <= $4
            ORDER BY customer_id
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        ), marked AS (
            UPDATE platform.coupons AS c SET reminded_at = $1 FROM picked WHERE c.id = picked.id
            RETURNING c.customer_id, c.id, c.template_id, c.valid_until
        )
        SELECT m.customer_id, cu.phone, cu.time_zone, count(*)::int8,
               string_agg(t.name, '、' ORDER BY m.valid_until, m.id), min(m.valid_until)
        FROM marked AS m
        JOIN platform.customers AS cu ON cu.id = m.customer_id
        JOIN platform.coupon_templates AS t ON t.id = m.template_id
        GROUP BY m.customer_id, cu.phone, cu.time_zone
        """

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let calendar = services.calendar
        let (windowStart, windowEnd) = (calendar.adding(days: 2, to: now), calendar.adding(days: 3, to: now))
        let dayKey = calendar.day(of: now)
        var messages = 0
        while true {
            let batch = try await context.database.withTransaction { connection -> Int in
                let rows = try connection.query(Self.due, [now, Int64(2_000), windowStart, windowEnd]).rows
                for row in rows {
                    let (customerID, phone, timeZone, count, names, ends) = try row.decode(
                        (Int64, String, String, Int64, String, Date).self)
                    try NotificationOutbox.queue(
                        template: "coupon_expiring",
                        parameters: ["count": "\(count)", "coupons": names, "date": calendar.monthDay(ends)],
                        recipient: phone, timeZone: timeZone, dedupeKey: "coupon_expiring:\(customerID):\(dayKey)",
                        now: now, on: connection)
                }
                return rows.count
            }
            messages += batch
            if batch == 0 { break }
        }
        services.log.info("coupon expiry reminders queued", [("holders", "\(messages)")])
    }
}
