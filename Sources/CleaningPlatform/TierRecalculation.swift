import Foundation
public import JobQueue
import PostgresClient

/// Membership tiers from growth value: ⌊paid fen / 100⌋ per completed,
/// unrefunded order completed in the trailing 12 months (now − 12 months, now],
/// plus activity points. Tier thresholds are rows (`platform.member_tiers`).
///
/// One set-based statement serves both uses: after an order completes it runs
/// for that customer and only upgrades; the nightly run covers everyone and
/// applies downgrades too. Changes are recorded and notified in the same
/// transaction; a second run with the same inputs finds nothing to change.
enum TierCalculation {
    static let apply = """
        WITH spent AS (
            SELECT customer_id, sum(paid_fen / 100) AS points
            FROM platform.orders
            WHERE status = '已完成' AND refunded_fen = 0
              AND completed_at > $1::timestamptz - interval '12 months' AND completed_at <= $1
              AND ($2::int8 IS NULL OR customer_id = $2)
            GROUP BY customer_id
        ), growth AS (
            SELECT c.id, c.tier_id AS old_tier, c.growth_value AS old_growth,
                   c.activity_points + COALESCE(s.points, 0) AS growth
            FROM platform.customers AS c LEFT JOIN spent AS s ON s.customer_id = c.id
            WHERE ($2::int8 IS NULL OR c.id = $2)
        ), target AS (
            SELECT g.*,
                   (SELECT t.id FROM platform.member_tiers AS t WHERE t.threshold <= g.growth
                    ORDER BY t.threshold DESC LIMIT 1) AS computed_tier
            FROM growth AS g
        ), decided AS (
            SELECT t.*,
                   CASE WHEN $3 AND (SELECT threshold FROM platform.member_tiers WHERE id = t.computed_tier)
                                   < (SELECT threshold FROM platform.member_tiers WHERE id = t.old_tier)
                        THEN t.old_tier ELSE t.computed_tier END AS new_tier
            FROM target AS t
        ), updated AS (
            UPDATE platform.customers AS c SET growth_value = d.growth, tier_id = d.new_tier
            FROM decided AS d
            WHERE c.id = d.id AND (c.growth_value <> d.growth OR c.tier_id <> d.new_tier)
            RETURNING c.id, d.old_tier, d.new_tier, d.growth, c.phone, c.time_zone
        ), changes AS (
            INSERT INTO platform.tier_changes (customer_id, old_tier_id, new_tier_id, growth_value, reason, created_at)
            SELECT id, old_tier, new_tier, growth, $4, $1 FROM updated WHERE old_tier <> new_tier
            RETURNING id, customer_id, new_tier_id
        )
        SELECT ch.id, u.phone, u.time_zone, t.name
        FROM changes AS ch
        JOIN updated AS u ON u.id = ch.customer_id
        JOIN platform.member_tiers AS t ON t.id = ch.new_tier_id
        """

    /// Returns the number of tier changes.
    static func run(
        now: Date, customerID: Int64?, upgradeOnly: Bool, reason: String, on connection: PostgresConnection
    ) throws -> Int {
        let changes = try connection.query(apply, [now, customerID, upgradeOnly, reason]).rows.map {
            try $0.decode((Int64, String, String, String).self)
        }
        try NotificationOutbox.queueMany(
            changes.map { change in
                NotificationOutbox.Message(
                    template: "tier_changed", parameters: ["tier": change.3], recipient: change.1, timeZone: change.2,
                    dedupeKey: "tier_changed:\(change.0)")
            }, now: now, on: connection)
        return changes.count
    }
}

/// The nightly full recalculation (upgrades and downgrades for every member).
public struct RecalculateTiers: JobArguments {
    public static let kind = "tier.recalculate"
    public init() {}

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let changed = try await context.completeInTransaction { connection in
            try TierCalculation.run(
                now: now, customerID: nil, upgradeOnly: false, reason: "nightly_recalculation", on: connection)
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
            _ = try TierCalculation.run(
                now: now, customerID: customer, upgradeOnly: true, reason: "order_completed", on: connection)
        }
    }
}
