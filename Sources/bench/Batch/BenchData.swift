import BenchSupport
import CleaningPlatform
import Foundation
import PostgresClient

/// Synthetic data generated inside the server (fast; the benchmark times the
/// batch jobs, not the load): customers with activity points, cleaners of every
/// level, orders over the last 13 months, and one week of completed orders with
/// reviews and complaints at realistic rates.
enum BenchData {
    static func load(
        customers: Int, orders: Int, cleaners: Int, payoutOrders: Int, period: PayoutPeriod,
        on connection: PostgresConnection
    ) throws {
        try connection.execute(
            """
            INSERT INTO platform.customers (phone, name, activity_points)
            SELECT '19' || lpad(g::text, 9, '0'), '客户' || g, g % 700 FROM generate_series(1, $1) AS g
            """, [Int64(customers)])
        try connection.execute(
            """
            INSERT INTO platform.cleaners (phone, name, latitude, longitude, level)
            SELECT '18' || lpad(g::text, 9, '0'), '保洁' || g, 31.2, 121.4, (ARRAY['新手', '熟练', '金牌'])[1 + g % 3]
            FROM generate_series(1, $1) AS g
            """, [Int64(cleaners)])
        // History for tiers: spread over 400 days, before the payout week.
        var done = 0
        while done < orders {
            let batch = min(1_000_000, orders - done)
            try completedOrders(
                ordinals: done + 1...done + batch, from: period.start.addingTimeInterval(-8 * 86_400), days: -400,
                seconds: -80_000, on: connection)
            done += batch
        }
        // The payout week.
        if payoutOrders > 0 {
            try completedOrders(ordinals: 1...payoutOrders, from: period.start, days: 0, seconds: 590_000, on: connection)
        }
        try connection.execute(
            """
            INSERT INTO platform.reviews (order_id, rating, comment, created_at)
            SELECT id, CASE WHEN id % 10 < 7 THEN 5 ELSE 3 END, CASE WHEN id % 3 = 0 THEN '' ELSE '很好' END,
                   completed_at + interval '1 hour'
            FROM platform.orders WHERE completed_at >= $1 AND completed_at < $2 AND id % 10 < 6
            """, [period.start, period.end.addingTimeInterval(-7200)])
        try connection.execute(
            """
            INSERT INTO platform.complaints (order_id, reason, status, outcome, created_at, resolved_at)
            SELECT id, '迟到', 'upheld', 'upheld', completed_at + interval '1 hour', completed_at + interval '2 hours'
            FROM platform.orders WHERE completed_at >= $1 AND completed_at < $2 AND id % 50 = 0
            """, [period.start, period.end.addingTimeInterval(-7200)])
        // What completing the orders would have posted: the customers' payments.
        try connection.execute(
            """
            WITH posted AS (
                INSERT INTO platform.ledger_transactions (kind, reference, description)
                SELECT 'collection', 'collection:' || id, 'payment' FROM platform.orders
                WHERE completed_at >= $1 AND completed_at < $2
                RETURNING id, substr(reference, 12)::int8 AS order_id
            )
            INSERT INTO platform.ledger_entries (transaction_id, account_id, amount_fen)
            SELECT p.id, a.id, CASE a.code WHEN 'platform:cash' THEN o.paid_fen ELSE -o.paid_fen END
            FROM posted AS p JOIN platform.orders AS o ON o.id = p.order_id
            JOIN platform.ledger_accounts AS a ON a.code IN ('platform:cash', 'platform:order_clearing')
            """, [period.start, period.end])
        try connection.executeScript("VACUUM ANALYZE")
    }

    /// Completed orders numbered `ordinals` (the number picks the customer, the
    /// cleaner and the amount; one in 500 starts 30 minutes late), finished `from` + (n mod |days|) days + (n mod
    /// |seconds|) seconds plus 2 hours, counted backwards for negative spans.
    static func completedOrders(
        ordinals: ClosedRange<Int>, from start: Date, days: Int, seconds: Int, on connection: PostgresConnection
    ) throws {
        try connection.execute(
            """
            INSERT INTO platform.orders (customer_id, cleaner_id, service_type_id, address, latitude, longitude,
                appointment_start, duration_minutes, status, amount_fen, paid_fen, started_at, completed_at, created_at)
            SELECT c.first + (g * 7919) % c.n, k.first + g % k.n, 1, 'x', 31.2, 121.4, t, 120, '已完成', a, a,
                   t + CASE WHEN g % 500 = 0 THEN interval '30 minutes' ELSE interval '0' END, t + interval '2 hours', t
            FROM (SELECT min(id) AS first, count(*) AS n FROM platform.customers) AS c,
                 (SELECT min(id) AS first, count(*) AS n FROM platform.cleaners) AS k,
                 LATERAL (SELECT g, $3::timestamptz + interval '1 day' * ($4::int8 * (g % $5::int8))
                                 + interval '1 second' * ($6::int8 * (g % $7::int8)) AS t,
                                 2000 + (g * 37) % 60000 AS a
                          FROM generate_series($1::int8, $2::int8) AS g) AS s
            """,
            [
                Int64(ordinals.lowerBound), Int64(ordinals.upperBound), start, Int64(days.signum()),
                Int64(max(abs(days), 1)), Int64(seconds.signum()), Int64(max(abs(seconds), 1)),
            ])
    }

    /// A day of business after `now`: `count` more orders completed in the 24 hours
    /// after it (after the payout week, so they do not change the payout run).
    static func addDay(orders count: Int, after now: Date, on connection: PostgresConnection) throws {
        guard count > 0 else { return }
        let last = try connection.query("SELECT count(*)::int8 FROM platform.orders").scalar(Int64.self)
        try completedOrders(
            ordinals: Int(last) + 1...Int(last) + count, from: now.addingTimeInterval(-7200 + 1), days: 0,
            seconds: 86_399, on: connection)
        try connection.executeScript("ANALYZE platform.orders")
    }
}
