public import Foundation
public import JobQueue
import PostgresClient

/// Membership tiers from growth value: ⌊paid fen / 100⌋ per completed,
/// unrefunded order completed in the trailing 12 months (now − 12 months, now],
/// the months counted in the business time zone, plus activity points. Tier thresholds are rows (`platform.member_tiers`).
///
/// One set-based statement serves both uses: after an order completes it runs
/// for that customer and only upgrades; the nightly run covers everyone (in two
/// id ranges) and applies downgrades too. The same statement records each change
/// and writes its notification; the dispatch jobs follow in the same
/// transaction. A second run with the same inputs finds nothing to change, so it
/// records and notifies nothing.
enum TierCalculation {
    /// Whose tiers a statement recalculates.
    enum Scope {
        /// One customer (`$4`), after an order: upgrades only.
        case customer
        /// The customers with ids in `[$4, $5)`, nightly: upgrades and downgrades.
        case range
    }

    /// `$1` now, `$2` the reason, `$3` the start of the growth window, then the scope's parameters.
    ///
    /// The tier is the bucket of the growth value among the thresholds in
    /// ascending order (`width_bucket`), found once per customer instead of by a
    /// sorted sub-query per customer (two per customer in the plan: 10 s of the
    /// nightly run at 1 000 000 customers). Growth is summed as int8, not numeric.
    static func statement(_ scope: Scope) -> String {
        let bucket = "width_bucket(g.growth, t.thresholds)"
        let (orders, customers, tier) =
            switch scope {
            case .customer:
                ("customer_id = $4", "c.id = $4", "GREATEST(\(bucket), array_position(t.ids, c.tier_id))")
            case .range:
                ("customer_id >= $4 AND customer_id < $5", "c.id >= $4 AND c.id < $5", bucket)
            }
        return """
            WITH tiers AS (
                SELECT array_agg(threshold ORDER BY threshold) AS thresholds, array_agg(id ORDER BY threshold) AS ids
                FROM platform.member_tiers
            ), spent AS (
                SELECT customer_id, sum(paid_fen / 100)::int8 AS points
                FROM platform.orders
                WHERE status = '已完成' AND refunded_fen = 0
                  AND completed_at > $3 AND completed_at <= $1 AND \(orders)
                GROUP BY customer_id
            ), decided AS (
                SELECT c.id, c.tier_id AS old_tier, g.growth, t.ids[\(tier)] AS new_tier
                FROM platform.customers AS c
                LEFT JOIN spent AS s ON s.customer_id = c.id
                CROSS JOIN tiers AS t
                CROSS JOIN LATERAL (SELECT c.activity_points + COALESCE(s.points, 0) AS growth) AS g
                WHERE \(customers)
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

    static let oneCustomer = statement(.customer)
    static let customerRange = statement(.range)

    /// Months of completed orders that count towards the growth value.
    static let windowMonths = 12

    /// Applies the statement with `parameters` after now, the reason and the
    /// window's start (12 business-calendar months before now), enqueues the
    /// dispatch jobs of its notifications; returns the number of tier changes.
    static func run(
        _ statement: String, now: Date, calendar: BusinessCalendar, reason: String, _ parameters: [Int64],
        on connection: PostgresConnection
    ) throws -> Int {
        let windowStart = calendar.adding(months: -windowMonths, to: now)
        let rows = try connection.query(statement, [now, reason, windowStart] + parameters).rows
        let changes = try rows.first?.decode(0, as: Int64.self) ?? 0
        try NotificationOutbox.enqueueDispatch(try rows.compactMap { try $0.decode(1, as: Int64?.self) }, on: connection)
        return Int(changes)
    }
}

/// The nightly full recalculation (upgrades and downgrades for every member).
///
/// The members are split into two id ranges recalculated at once, each in its
/// own transaction on its own connection: the work is per changed row
/// (updates, foreign key checks, index entries), so two server processes use the
/// machine's two cores. The job completes once both committed. A crash between
/// the two commits is safe: the retry finds nothing left to change in the range
/// that committed, so nobody is changed or notified twice.
public struct RecalculateTiers: JobArguments {
    public static let kind = "tier.recalculate"
    /// The moment to recalculate for (a back-office re-run); nil: now.
    public var asOf: Date?

    public init(asOf: Date? = nil) {
        self.asOf = asOf
    }

    static let parts = 2

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = asOf ?? services.clock.now
        let calendar = services.calendar
        let database = context.database
        let (first, last) = try await database.query("SELECT min(id), max(id) FROM platform.customers").first!
            .decode((Int64?, Int64?).self)
        guard let first, let last else { return }
        let step = (last - first) / Int64(Self.parts) + 1
        let changed = try await withThrowingTaskGroup(of: Int.self) { group in
            for part in 0..<Int64(Self.parts) {
                let bounds = [first + part * step, min(first + (part + 1) * step, last + 1)]
                group.addTask {
                    try await database.withTransaction { connection in
                        // The sums of every customer's year fit in memory (about 100 MB
                        // per half at 1 000 000 customers) instead of spilling to disk.
                        try connection.executeScript("SET LOCAL work_mem = '256MB'")
                        return try TierCalculation.run(
                            TierCalculation.customerRange, now: now, calendar: calendar, reason: "nightly_recalculation", bounds,
                            on: connection)
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        services.log.info("tiers recalculated", [("changes", "\(changed)")])
    }
}

/// After a completed order: upgrade the customer at once if eligible (never down).
public struct UpgradeTier: JobArguments {
    public static let kind = "tier.upgrade"
    public var customerID: Int64

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(customerID, "customerID")
    }

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let calendar = services.calendar
        let customer = customerID
        try await context.completeInTransaction { connection in
            _ = try TierCalculation.run(
                TierCalculation.oneCustomer, now: now, calendar: calendar, reason: "order_completed", [customer],
                on: connection)
        }
    }
}
