public import Foundation
public import PostgresClient

/// Recomputes the statistics tables (`platform.*_statistics_*`, migration 0015)
/// for a set of business days: each day's rows are deleted and rebuilt from the
/// platform's data in set-based statements, so recomputing a day twice gives the
/// same rows and a late change (a refund, a review) is corrected by recomputing
/// its day. Days are calendar days in the business time zone, passed to SQL as
/// the zone's name: `AT TIME ZONE` with an explicit zone ignores the session's.
public enum StatisticsRollup {
    /// The statements' parameters: `$1` the business time zone, `$2` the days
    /// (`YYYY-MM-DD`), `$3` and `$4` the instants the first day starts and the last
    /// ends. The range lets the planner choose (an index range for a day, a
    /// sequential scan for a backfill of every day); the day list then keeps only
    /// the days asked for, as a set read once (text to date is not constant-folded:
    /// a cast array compared per row is parsed per row).
    private static func placedOn(_ alias: String, _ column: String) -> String {
        """
        \(alias).\(column) >= $3 AND \(alias).\(column) < $4
          AND (\(alias).\(column) AT TIME ZONE $1)::date IN (SELECT unnest($2::text[])::date)
        """
    }

    static let orders = """
        INSERT INTO platform.order_statistics_daily (
            day, city, district, service_type_id, channel, orders_placed, orders_completed, orders_cancelled,
            gmv_fen, paid_fen, refunded_fen)
        SELECT (o.created_at AT TIME ZONE $1)::date, o.city, o.district, o.service_type_id, o.channel, count(*),
               count(*) FILTER (WHERE o.status = '\(OrderStatus.completed)'),
               count(*) FILTER (WHERE o.status = '\(OrderStatus.cancelled)'),
               sum(o.amount_fen), sum(o.paid_fen), sum(o.refunded_fen)
        FROM platform.orders AS o
        WHERE \(placedOn("o", "created_at"))
        GROUP BY 1, 2, 3, 4, 5
        """

    static let hours = """
        INSERT INTO platform.order_statistics_hourly (day, hour, orders_placed, gmv_fen, paid_fen, refunded_fen)
        SELECT (o.created_at AT TIME ZONE $1)::date, extract(hour FROM o.created_at AT TIME ZONE $1)::int2, count(*),
               sum(o.amount_fen), sum(o.paid_fen), sum(o.refunded_fen)
        FROM platform.orders AS o
        WHERE \(placedOn("o", "created_at"))
        GROUP BY 1, 2
        """

    /// Returning: the customer's first order was placed before the day. Found as
    /// each active customer's earliest order, once per customer, from the first
    /// entry of the (customer, placed) index.
    static let customers = """
        WITH joined AS (
            SELECT (c.created_at AT TIME ZONE $1)::date AS day, c.tier_id, count(*) AS customers
            FROM platform.customers AS c
            WHERE \(placedOn("c", "created_at"))
            GROUP BY 1, 2
        ), active AS (
            SELECT DISTINCT (o.created_at AT TIME ZONE $1)::date AS day, o.customer_id
            FROM platform.orders AS o
            WHERE \(placedOn("o", "created_at"))
        ), firsts AS (
            SELECT a.customer_id, (f.created_at AT TIME ZONE $1)::date AS day
            FROM (SELECT DISTINCT customer_id FROM active) AS a
            CROSS JOIN LATERAL (
                SELECT p.created_at FROM platform.orders AS p WHERE p.customer_id = a.customer_id
                ORDER BY p.created_at LIMIT 1
            ) AS f
        ), active_by_tier AS (
            SELECT a.day, c.tier_id, count(*) AS customers, count(*) FILTER (WHERE f.day < a.day) AS returning
            FROM active AS a JOIN platform.customers AS c ON c.id = a.customer_id
            JOIN firsts AS f ON f.customer_id = a.customer_id
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
        WITH done AS (
            SELECT (o.completed_at AT TIME ZONE $1)::date AS day, c.level, o.cleaner_id, o.duration_minutes, r.rating,
                   (o.paid_fen - o.refunded_fen) - ((o.paid_fen - o.refunded_fen) * cr.rate_bp + 5000) / 10000 AS income
            FROM platform.orders AS o
            JOIN platform.cleaners AS c ON c.id = o.cleaner_id
            JOIN platform.commission_rates AS cr ON cr.level = c.level
            LEFT JOIN platform.reviews AS r ON r.order_id = o.id
            WHERE o.status = '\(OrderStatus.completed)' AND \(placedOn("o", "completed_at"))
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

    /// Rebuilds every statistics table for `days` (business days in `timeZone`),
    /// in the caller's transaction: their rows are deleted first, in statements of
    /// their own (a DELETE in a WITH runs alongside the INSERT, whose new rows would
    /// meet the old ones in the unique index). Each statement is planned for its
    /// range (a cached generic plan would read a day as it reads a year).
    public static func recompute(days: [BusinessDay], timeZone: TimeZone, on connection: PostgresConnection) throws {
        guard let first = days.min(), let last = days.max() else { return }
        let calendar = BusinessCalendar(timeZone: timeZone)
        let texts = days.map(\.description)
        try connection.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        for table in tables {
            try connection.execute("DELETE FROM \(table) WHERE day IN (SELECT unnest($1::text[])::date)", [texts])
        }
        let starts = calendar.start(of: first), ends = calendar.adding(days: 1, to: calendar.start(of: last))
        for statement in [orders, hours, customers, cleaners] {
            try connection.execute(statement, [timeZone.identifier, texts, starts, ends])
        }
    }

    /// Takes the recorded changes (deleting them in the caller's transaction) and
    /// returns the business days they fall on, with `also`, in order.
    public static func changedDays(
        also: [BusinessDay], timeZone: TimeZone, on connection: PostgresConnection
    ) throws -> [BusinessDay] {
        try connection.query(
            """
            WITH consumed AS (DELETE FROM platform.statistics_changes RETURNING moment)
            SELECT DISTINCT to_char(day, 'YYYY-MM-DD') FROM (
                SELECT (moment AT TIME ZONE $1)::date AS day FROM consumed
                UNION ALL SELECT unnest($2::text[]::date[])
            ) AS changed ORDER BY 1
            """, [timeZone.identifier, also.map(\.description)]
        ).rows.compactMap { BusinessDay(try $0.decode(0, as: String.self)) }
    }
}
