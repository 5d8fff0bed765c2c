public import PostgresClient

/// What the statistics tables say for a range of business days, one line per
/// day (days without data read as zeros): what `jobsctl stats platform` prints
/// and exports, and the demo's "yesterday" line.
public struct PlatformStatistics: Sendable, Codable, Equatable {
    public struct Day: Sendable, Codable, Equatable {
        public var day: String
        public var ordersPlaced: Int
        public var ordersCompleted: Int
        public var ordersCancelled: Int
        public var gmvFen: Int64
        public var paidFen: Int64
        public var refundedFen: Int64
        public var newCustomers: Int
        public var activeCustomers: Int
        public var returningCustomers: Int
        public var activeCleaners: Int
        public var serviceMinutes: Int64
        /// Service minutes over eight hours per active cleaner, in basis points.
        public var utilisationBasisPoints: Int
        public var reviews: Int
        /// Average rating of the reviewed orders completed that day, in hundredths (0 without reviews).
        public var ratingHundredths: Int
        public var cleanerIncomeFen: Int64

        /// A day with nothing in it.
        public init(day: String) {
            self.day = day
            (ordersPlaced, ordersCompleted, ordersCancelled) = (0, 0, 0)
            (gmvFen, paidFen, refundedFen) = (0, 0, 0)
            (newCustomers, activeCustomers, returningCustomers, activeCleaners) = (0, 0, 0, 0)
            (serviceMinutes, utilisationBasisPoints, reviews, ratingHundredths, cleanerIncomeFen) = (0, 0, 0, 0, 0)
        }
    }

    public var days: [Day]

    /// Column names of `csv` and of the table `jobsctl stats platform` prints.
    public static let columns = [
        "day", "orders_placed", "orders_completed", "orders_cancelled", "gmv_fen", "paid_fen", "refunded_fen",
        "new_customers", "active_customers", "returning_customers", "active_cleaners", "service_minutes",
        "utilisation_bp", "reviews", "rating_x100", "cleaner_income_fen",
    ]

    /// One row per day, in the order of `columns`.
    public var rows: [[String]] {
        days.map { d in
            [d.day] + [
                Int64(d.ordersPlaced), Int64(d.ordersCompleted), Int64(d.ordersCancelled), d.gmvFen, d.paidFen,
                d.refundedFen, Int64(d.newCustomers), Int64(d.activeCustomers), Int64(d.returningCustomers),
                Int64(d.activeCleaners), d.serviceMinutes, Int64(d.utilisationBasisPoints), Int64(d.reviews),
                Int64(d.ratingHundredths), d.cleanerIncomeFen,
            ].map { "\($0)" }
        }
    }

    /// The CSV export: a header, then one line per day (amounts in fen; no field needs quoting).
    public var csv: String {
        ([Self.columns] + rows).map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    static let read = """
        WITH days AS (
            SELECT d::date AS day FROM generate_series($1::text::date::timestamp, $2::text::date::timestamp, interval '1 day') AS d
        ), orders AS (
            SELECT day, sum(orders_placed)::int8 AS placed, sum(orders_completed)::int8 AS completed,
                   sum(orders_cancelled)::int8 AS cancelled, sum(gmv_fen)::int8 AS gmv, sum(paid_fen)::int8 AS paid,
                   sum(refunded_fen)::int8 AS refunded
            FROM platform.order_statistics_daily WHERE day IN (SELECT day FROM days) GROUP BY day
        ), customers AS (
            SELECT day, sum(new_customers)::int8 AS joined, sum(active_customers)::int8 AS active,
                   sum(returning_customers)::int8 AS returning
            FROM platform.customer_statistics_daily WHERE day IN (SELECT day FROM days) GROUP BY day
        ), cleaners AS (
            SELECT day, sum(active_cleaners)::int8 AS active, sum(service_minutes)::int8 AS minutes,
                   sum(reviews)::int8 AS reviews, sum(rating_sum)::int8 AS rating_sum, sum(income_fen)::int8 AS income
            FROM platform.cleaner_statistics_daily WHERE day IN (SELECT day FROM days) GROUP BY day
        )
        SELECT to_char(d.day, 'YYYY-MM-DD'), COALESCE(o.placed, 0), COALESCE(o.completed, 0), COALESCE(o.cancelled, 0),
               COALESCE(o.gmv, 0), COALESCE(o.paid, 0), COALESCE(o.refunded, 0),
               COALESCE(c.joined, 0), COALESCE(c.active, 0), COALESCE(c.returning, 0),
               COALESCE(w.active, 0), COALESCE(w.minutes, 0), COALESCE(w.reviews, 0), COALESCE(w.rating_sum, 0),
               COALESCE(w.income, 0)
        FROM days AS d LEFT JOIN orders AS o USING (day) LEFT JOIN customers AS c USING (day)
        LEFT JOIN cleaners AS w USING (day)
        ORDER BY d.day
        """

    /// The days from `from` through `to`, as last rolled up.
    public static func read(from: BusinessDay, to: BusinessDay, on connection: PostgresConnection) throws -> PlatformStatistics {
        let rows = try connection.query(read, [from.description, to.description]).rows.map { row in
            let (day, placed, completed, cancelled, gmv, paid, refunded) =
                try row.decode((String, Int64, Int64, Int64, Int64, Int64, Int64).self)
            let values = try (7..<15).map { try row.decode($0, as: Int64.self) }
            let (activeCleaners, minutes, reviews, ratingSum) = (values[3], values[4], values[5], values[6])
            var line = Day(day: day)
            (line.ordersPlaced, line.ordersCompleted, line.ordersCancelled) = (Int(placed), Int(completed), Int(cancelled))
            (line.gmvFen, line.paidFen, line.refundedFen) = (gmv, paid, refunded)
            (line.newCustomers, line.activeCustomers, line.returningCustomers) = (Int(values[0]), Int(values[1]), Int(values[2]))
            (line.activeCleaners, line.serviceMinutes, line.reviews) = (Int(activeCleaners), minutes, Int(reviews))
            if activeCleaners > 0 {
                line.utilisationBasisPoints = Int(minutes * 10_000 / (activeCleaners * Int64(StatisticsRollup.workingDayMinutes)))
            }
            if reviews > 0 { line.ratingHundredths = Int((ratingSum * 100 + reviews / 2) / reviews) }
            line.cleanerIncomeFen = values[7]
            return line
        }
        return PlatformStatistics(days: rows)
    }
}
