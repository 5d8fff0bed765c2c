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
        let first = try connection.query(
            "SELECT min(id) FROM platform.customers").scalar(Int64.self)
        let firstCleaner = try connection.query("SELECT min(id) FROM platform.cleaners").scalar(Int64.self)
        // History for tiers: spread over 400 days, before the payout week.
        var done = 0
        while done < orders {
            let batch = min(1_000_000, orders - done)
            try connection.execute(
                """
                INSERT INTO platform.orders (customer_id, cleaner_id, service_type_id, address, latitude, longitude,
                    appointment_start, duration_minutes, status, amount_fen, paid_fen, completed_at, created_at)
                SELECT $1 + (g * 7919) % $2, $3 + g % $4, 1, 'x', 31.2, 121.4, t, 120, '已完成', a, a, t + interval '2 hours', t
                FROM (SELECT g, $6::timestamptz - interval '8 days' - (g % 400) * interval '1 day' - (g % 80000) * interval '1 second' AS t,
                             2000 + (g * 37) % 60000 AS a
                      FROM generate_series($5 + 1, $5 + $7) AS g) AS s
                """,
                [first, Int64(customers), firstCleaner, Int64(cleaners), Int64(done), period.start, Int64(batch)])
            done += batch
        }
        // The payout week.
        try connection.execute(
            """
            INSERT INTO platform.orders (customer_id, cleaner_id, service_type_id, address, latitude, longitude,
                appointment_start, duration_minutes, status, amount_fen, paid_fen, completed_at, created_at)
            SELECT $1 + (g * 7919) % $2, $3 + g % $4, 1, 'x', 31.2, 121.4, t, 120, '已完成', a, a, t + interval '2 hours', t
            FROM (SELECT g, $5::timestamptz + (g % 590000) * interval '1 second' AS t, 2000 + (g * 37) % 60000 AS a
                  FROM generate_series(1, $6) AS g) AS s
            """, [first, Int64(customers), firstCleaner, Int64(cleaners), period.start, Int64(payoutOrders)])
        try connection.execute(
            """
            INSERT INTO platform.reviews (order_id, rating, comment, created_at)
            SELECT id, CASE WHEN id % 10 < 7 THEN 5 ELSE 3 END, CASE WHEN id % 3 = 0 THEN '' ELSE '很好' END,
                   completed_at + interval '1 hour'
            FROM platform.orders WHERE completed_at >= $1 AND completed_at < $2 AND id % 10 < 6
            """, [period.start, period.end.addingTimeInterval(-7200)])
        try connection.execute(
            """
            INSERT INTO platform.complaints (order_id, reason, status, created_at, resolved_at)
            SELECT id, '迟到', 'upheld', completed_at + interval '1 hour', completed_at + interval '2 hours'
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
        try connection.executeScript("ANALYZE")
    }
}
