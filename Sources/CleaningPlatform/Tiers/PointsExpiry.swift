public import Foundation
public import JobQueue
import PostgresClient

/// Expires points whose validity ended, through the points ledger. Points are
/// spent oldest first, so what expires at validity end E is everything earned
/// with validity ≤ E minus everything already spent or expired (never below 0).
/// One ledger row per customer and E (a unique index), so a second run changes
/// nothing, and the balance moves in the same statement as the ledger row.
public struct ExpirePoints: JobArguments {
    public static let kind = "points.expire"
    public init() {}

    static let validityEnds = """
        SELECT DISTINCT expires_at FROM platform.points_ledger
        WHERE reason = 'earned' AND expires_at <= $1 ORDER BY expires_at
        """

    static let expire = """
        WITH holders AS (
            SELECT DISTINCT customer_id FROM platform.points_ledger WHERE reason = 'earned' AND expires_at = $1
        ), amounts AS (
            SELECT l.customer_id,
                   COALESCE(sum(l.delta) FILTER (WHERE l.reason = 'earned' AND l.expires_at <= $1), 0)
                   + COALESCE(sum(l.delta) FILTER (WHERE l.reason IN ('spent', 'expired')), 0) AS expiring
            FROM platform.points_ledger AS l JOIN holders USING (customer_id)
            GROUP BY l.customer_id
        ), written AS (
            INSERT INTO platform.points_ledger (customer_id, delta, reason, expiry_of, created_at)
            SELECT customer_id, -expiring, 'expired', $1, $2 FROM amounts WHERE expiring > 0
            ON CONFLICT (customer_id, expiry_of) WHERE reason = 'expired' DO NOTHING
            RETURNING customer_id, delta
        )
        UPDATE platform.customers AS c SET points_balance = c.points_balance + w.delta
        FROM written AS w WHERE c.id = w.customer_id
        """

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let total = try await context.database.withTransaction { connection -> Int in
            var customers = 0
            for row in try connection.query(Self.validityEnds, [now]).rows {
                customers += try connection.execute(Self.expire, [try row.decode(0, as: Date.self), now])
            }
            return customers
        }
        services.log.info("points expired", [("customers", "\(total)")])
    }

    /// The validity end of points earned at `date`: the end of the next calendar year.
    public static func validityEnd(earnedAt date: Date, timeZone: TimeZone) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let year = calendar.component(.year, from: date)
        return calendar.date(from: DateComponents(year: year + 2, month: 1, day: 1))!
    }
}
