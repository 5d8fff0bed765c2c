import Foundation
public import JobQueue
import PostgresClient

/// Membership tiers from growth value: ⌊paid fen / 100⌋ per completed,
/// unrefunded order completed in the trailing 12 months (now − 12 months, now],
/// plus activity points. Tier thresholds are rows (`platform.member_tiers`).
///
/// One set-based statement serves both uses: after an order completes it runs
/// for that customer and only upgrades; the nightly run covers everyone and
/// applies downgrades too. The same statement records each change and writes its
/// notification; the dispatch jobs follow in the same transaction. A second run
/// with the same inputs finds nothing to change, so it records and notifies
/// nothing.
enum TierCalculation {
    /// `$1` now, `$2` the reason; for one customer `$3` the customer.
    ///
    /// The tier is the bucket of the growth value among the thresholds in
    /// ascending order (`width_bucket`), found once per customer instead of by a
    /// sorted sub-query per customer (two per customer in the plan: 10 s of the
    /// nightly run at 1 000 000 customers). Growth is summed as int8, not numeric.
    static func statement(oneCustomer: Bool) -> String {
        let bucket = "width_bucket(g.growth, t.thresholds)"
        return """
            WITH tiers AS (
                SELECT array_agg(threshold ORDER BY threshold) AS thresholds, array_agg(id ORDER BY threshold) AS ids
                FROM platform.member_tiers
            ), spent AS (
                SELECT customer_id, sum(paid_fen / 100)::int8 AS points
                FROM platform.orders
                WHERE status = '已完成' AND refunded_fen = 0
                  AND completed_at > $1::timestamptz - interval '12 months' AND completed_at <= $1
                  \(oneCustomer ? "AND customer_id = $3" : "")
                GROUP BY customer_id
            ), decided AS (
                SELECT c.id, c.tier_id AS old_tier, g.growth,
                       t.ids[\(oneCustomer ? "GREATEST(\(bucket), array_position(t.ids, c.tier_id))" : bucket)] AS new_tier
                FROM platform.customers AS c
                LEFT JOIN spent AS s ON s.customer_id = c.id
                CROSS JOIN tiers AS t
                CROSS JOIN LATERAL (SELECT c.activity_points + COALESCE(s.points, 0) AS growth) AS g
                \(oneCustomer ? "WHERE c.id = $3" : "")
            ), updated AS (
                UPDATE platform.customers AS c SET growth_value = d.growth, tier_id = d.new_tier
                FROM decided AS d
                WHERE c.id = d.id AND (c.growth_value <> d.growth OR c.tier_id <> d.new_tier)
                RETURNING c.id, d.old_tier, d.new_tier, d.growth, c.phone, c.time_zone
            ), changes AS (
                INSERT INTO platform.tier_changes (customer_id, old_tier_id, new_tier_id, growth_value, reason, created_at)
                SELECT id, old_tier, new_tier, growth, $2, $1 FROM updated WHERE old_tier <> new_tier
                RETURNING id, customer_id, new_tier_id
            ), notified AS (
                \(NotificationOutbox.insertSelect(
                    """
                    (SELECT 'tier_changed', jsonb_build_object('tier', m.name), u.phone, u.time_zone, 'tier_changed:' || ch.id
                     FROM changes AS ch JOIN updated AS u ON u.id = ch.customer_id
                     JOIN platform.member_tiers AS m ON m.id = ch.new_tier_id)
                    """, now: "$1"))
            )
            SELECT (SELECT count(*) FROM changes)::int8, n.id FROM (SELECT 1) AS one LEFT JOIN notified AS n ON true
            """
    }

    static let everyone = statement(oneCustomer: false)
    static let oneCustomer = statement(oneCustomer: true)

    /// Returns the number of tier changes.
    static func run(now: Date, customerID: Int64?, reason: String, on connection: PostgresConnection) throws -> Int {
        let rows = try connection.query(
            customerID == nil ? everyone : oneCustomer, customerID.map { [now, reason, $0] } ?? [now, reason]
        ).rows
        let changes = try rows.first?.decode(0, as: Int64.self) ?? 0
        try NotificationOutbox.enqueueDispatch(try rows.compactMap { try $0.decode(1, as: Int64?.self) }, on: connection)
        return Int(changes)
    }
}

/// The nightly full recalculation (upgrades and downgrades for every member).
public struct RecalculateTiers: JobArguments {
    public static let kind = "tier.recalculate"
    public init() {}

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let changed = try await context.completeInTransaction { connection in
            // The sums of every customer's year fit in memory (about 200 MB at
            // 1 000 000 customers) instead of spilling to disk in 32 batches.
            try connection.executeScript("SET LOCAL work_mem = '256MB'")
            return try TierCalculation.run(now: now, customerID: nil, reason: "nightly_recalculation", on: connection)
        }
        services.log.info("tiers recalculated", [("changes", "\(changed)")])
    }
}

/// After a completed order: upgrade the customer at once if eligible (never down).
public struct UpgradeTier: JobArguments {
    public static let kind = "tier.upgrade"
    public var customerID: Int64

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let customer = customerID
        try await context.completeInTransaction { connection in
            _ = try TierCalculation.run(now: now, customerID: customer, reason: "order_completed", on: connection)
        }
    }
}
