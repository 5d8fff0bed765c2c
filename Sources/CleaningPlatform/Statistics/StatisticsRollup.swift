public import Foundation
public import PostgresClient

/// Recomputes the statistics tables (`platform.*_statistics_*`, migration 0015)
/// for a set of business days: each day's rows are deleted and rebuilt from the
/// platform's data in set-based statements, so recomputing a day twice gives the
/// same rows and a late change (a refund, a review) is corrected by recomputing
/// its day. Days are calendar days in the business time zone, passed to SQL as
/// the zone's name: `AT TIME ZONE` with an explicit zone ignores the session's.
public enum StatisticsRollup {
    /// `$1` the business time zone, `$2` the days (`YYYY-MM-DD`): each day and
    /// the instants it starts and ends at.
    private static let days = """
        days AS (
            SELECT d AS day, d::timestamp AT TIME ZONE $1 AS starts, (d + 1)::timestamp AT TIME ZONE $1 AS ends
            FROM unnest($2::text[]::date[]) AS d
        )
        """

    static let orders = """
        WITH \(days)
        INSERT INTO platform.order_statistics_daily (
            day, city, district, service_type_id, channel, orders_placed, orders_completed, orders_cancelled,
            gmv_fen, paid_fen, refunded_fen)
        SELECT d.day, o.city, o.district, o.service_type_id, o.channel, count(*),
               count(*) FILTER (WHERE o.status = '\(OrderStatus.completed)'),
               count(*) FILTER (WHERE o.status = '\(OrderStatus.cancelled)'),
               sum(o.amount_fen), sum(o.paid_fen), sum(o.refunded_fen)
        FROM days AS d JOIN platform.orders AS o ON o.created_at >= d.starts AND o.created_at < d.ends
        GROUP BY d.day, o.city, o.district, o.service_type_id, o.channel
        """

    static let hours = """
        WITH \(days)
        INSERT INTO platform.order_statistics_hourly (day, hour, orders_placed, gmv_fen, paid_fen, refunded_fen)
        SELECT d.day, extract(hour FROM o.created_at AT TIME ZONE $1)::int2, count(*),
               sum(o.amount_fen), sum(o.paid_fen), sum(o.refunded_fen)
        FROM days AS d JOIN platform.orders AS o ON o.created_at >= d.starts AND o.created_at < d.ends
        GROUP BY 1, 2
        """

    static let customers = """
        WITH \(days), joined AS (
            SELECT d.day, c.tier_id, count(*) AS customers
            FROM days AS d JOIN platform.customers AS c ON c.created_at >= d.starts AND c.created_at < d.ends
            GROUP BY 1, 2
        ), active AS (
            SELECT DISTINCT d.day, d.starts, o.customer_id
            FROM days AS d JOIN platform.orders AS o ON o.created_at >= d.starts AND o.created_at < d.ends
        ), active_by_tier AS (
            SELECT a.day, c.tier_id, count(*) AS customers,
                   count(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM platform.orders AS p WHERE p.customer_id = a.customer_id AND p.created_at < a.starts
                   )) AS returning
            FROM active AS a JOIN platform.customers AS c ON c.id = a.customer_id
            GROUP BY 1, 2
        )
        INSERT INTO platform.customer_statistics_daily (day, tier_id, new_customers, active_customers, returning_customers)
        SELECT COALESCE(j.day, a.day), COALESCE(j.tier_id, a.tier_id), COALESCE(j.customers, 0),
               COALESCE(a.customers, 0), COALESCE(a.returning, 0)
        FROM joined AS j FULL JOIN active_by_tier AS a ON a.day = j.day AND a.tier_id = j.tier_id
        """

    /// Minutes of an active cleaner's working day, the denominator of utilisation.
    static let workingDayMinutes = 480

    static let cleaners = """
        WITH \(days), done AS (
            SELECT d.day, c.level, o.cleaner_id, o.duration_minutes, r.rating,
                   (o.paid_fen - o.refunded_fen) - ((o.paid_fen - o.refunded_fen) * cr.rate_bp + 5000) / 10000 AS income
            FROM days AS d
            JOIN platform.orders AS o
              ON o.status = '\(OrderStatus.completed)' AND o.completed_at >= d.starts AND o.completed_at < d.ends
            JOIN platform.cleaners AS c ON c.id = o.cleaner_id
            JOIN platform.commission_rates AS cr ON cr.level = c.level
            LEFT JOIN platform.reviews AS r ON r.order_id = o.id
        )
        INSERT INTO platform.cleaner_statistics_daily (
            day, level, active_cleaners, completed_orders, service_minutes, utilisation_bp, reviews, rating_sum, income_fen)
        SELECT day, level, count(DISTINCT cleaner_id), count(*), sum(duration_minutes),
               (sum(duration_minutes) * 10000 / (count(DISTINCT cleaner_id) * \(workingDayMinutes)))::int4,
               count(rating), COALESCE(sum(rating), 0), sum(income)
        FROM done GROUP BY day, level
        """

    static let tables = [
        "platform.order_statistics_daily", "platform.order_statistics_hourly", "platform.customer_statistics_daily",
        "platform.cleaner_statistics_daily",
    ]

    /// Rebuilds every statistics table for `days` (`YYYY-MM-DD`, business days in
    /// `timeZone`): their rows are deleted first, in statements of their own (a
    /// DELETE in a WITH runs alongside the INSERT, whose new rows would meet the
    /// old ones in the unique index).
    public static func recompute(days: [String], timeZone: TimeZone, on connection: PostgresConnection) throws {
        guard !days.isEmpty else { return }
        for table in tables {
            try connection.execute("DELETE FROM \(table) WHERE day = ANY($1::text[]::date[])", [days])
        }
        for statement in [orders, hours, customers, cleaners] {
            try connection.execute(statement, [timeZone.identifier, days])
        }
    }

    /// Takes the recorded changes (deleting them in the caller's transaction) and
    /// returns the business days they fall on, with `also`, in order.
    public static func changedDays(
        also: [String], timeZone: TimeZone, on connection: PostgresConnection
    ) throws -> [String] {
        try connection.query(
            """
            WITH consumed AS (DELETE FROM platform.statistics_changes RETURNING moment)
            SELECT DISTINCT to_char(day, 'YYYY-MM-DD') FROM (
                SELECT (moment AT TIME ZONE $1)::date AS day FROM consumed
                UNION ALL SELECT unnest($2::text[]::date[])
            ) AS changed ORDER BY 1
            """, [timeZone.identifier, also]
        ).rows.map { try $0.decode(0, as: String.self) }
    }
}
