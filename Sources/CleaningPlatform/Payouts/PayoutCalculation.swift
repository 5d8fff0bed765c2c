import Foundation
import PostgresClient

/// One cleaner's numbers for a period, computed in SQL from the rules tables.
public struct PayoutLine: Sendable, Equatable {
    public var cleanerID: Int64
    public var cleanerName: String
    public var level: String
    /// Orders this line settles, refunded ones included (see `PayoutCalculation`).
    public var orders: Int
    public var grossFen: Int64
    public var commissionFen: Int64
    public var bonusFen: Int64
    public var penaltyFen: Int64
    public var carriedInFen: Int64

    public var netFen: Int64 { grossFen - commissionFen + bonusFen - penaltyFen - carriedInFen }
    /// What is paid out: never below zero.
    public var payableFen: Int64 { max(netFen, 0) }
    /// A negative net is carried to the next period as a receivable.
    public var carryOutFen: Int64 { max(-netFen, 0) }
}

/// The settlement arithmetic, computed for every cleaner of a period at once:
/// gross = paid minus refunded per completed, unsettled order; commission per
/// order = paid × rate by level, rounded half up to the fen; bonuses for 5-star
/// reviews with a comment written in the period and service-quality rewards
/// decided in it; penalties for complaints upheld in the period and quality fines
/// decided in it; what a cleaner still owes from earlier periods (the receivable)
/// is carried in.
enum PayoutCalculation {
    /// Common table expressions over the period `[$1, $2)`: `eligible` holds the
    /// completed orders no line has settled yet (with their commission), `lines`
    /// one row per cleaner with something to settle. The period's orders, reviews
    /// and complaints are each scanned once. `PayoutSettlement` writes from the
    /// same expressions, so a run records exactly the orders its lines counted.
    ///
    /// Money nobody sees is money nobody checks: a cleaner still owing a receivable
    /// from an earlier period (`carried`) gets a line even with no orders, bonuses or
    /// penalties in this one, so the run and its report show the debt carried in
    /// and out and the report's totals equal the ledger's movements. "Earlier" is
    /// by period: no line of this period or a later one has carried it yet (a later
    /// period's run, or a re-run of an old period, does not pick it up again).
    ///
    /// Refunded orders are settled and counted like any other completed order;
    /// each contributes what the customer paid and was not refunded (a fully
    /// refunded order: 0 fen), and commission is taken on that amount.
    static let lineExpressions = """
        eligible AS (
            SELECT o.id, o.cleaner_id, o.paid_fen - o.refunded_fen AS paid,
                   ((o.paid_fen - o.refunded_fen) * r.rate_bp + 5000) / 10000 AS commission
            FROM platform.orders AS o
            JOIN platform.cleaners AS c ON c.id = o.cleaner_id
            JOIN platform.commission_rates AS r ON r.level = c.level
            WHERE o.status = '已完成' AND o.completed_at >= $1 AND o.completed_at < $2
              AND NOT EXISTS (SELECT 1 FROM platform.order_settlements AS s WHERE s.order_id = o.id)
        ), earnings AS (
            SELECT cleaner_id, count(*) AS orders, sum(paid) AS gross, sum(commission) AS commission
            FROM eligible GROUP BY cleaner_id
        ), \(qualityExpression), bonuses AS (
            SELECT cleaner_id, sum(bonus) AS bonus FROM (
                SELECT o.cleaner_id, count(*) * (SELECT amount_fen FROM platform.payout_rules WHERE code = 'five_star_review') AS bonus
                FROM platform.reviews AS v CROSS JOIN LATERAL (\(orderOf("v"))) AS o
                WHERE v.rating = 5 AND NOT queue.is_blank(v.comment) AND v.created_at >= $1 AND v.created_at < $2
                GROUP BY o.cleaner_id
                UNION ALL
                SELECT cleaner_id, bonus_fen FROM quality WHERE bonus_fen > 0
            ) AS b GROUP BY cleaner_id
        ), penalties AS (
            SELECT cleaner_id, sum(penalty) AS penalty FROM (
                SELECT o.cleaner_id, -count(*) * (SELECT amount_fen FROM platform.payout_rules WHERE code = 'upheld_complaint') AS penalty
                FROM platform.complaints AS k CROSS JOIN LATERAL (\(orderOf("k"))) AS o
                WHERE k.outcome = 'upheld' AND k.resolved_at >= $1 AND k.resolved_at < $2
                GROUP BY o.cleaner_id
                UNION ALL
                SELECT cleaner_id, fine_fen FROM quality WHERE fine_fen > 0
            ) AS p GROUP BY cleaner_id
        ), receivables AS (
            SELECT a.cleaner_id, o.owed
            FROM platform.ledger_accounts AS a
            CROSS JOIN LATERAL (\(balanceOf("a"))) AS o
            WHERE a.code LIKE 'cleaner:%:receivable' AND o.owed > 0
        ), carried AS (
            SELECT r.cleaner_id FROM receivables AS r
            WHERE NOT EXISTS (
                SELECT 1 FROM platform.payout_items AS i JOIN platform.payout_runs AS u ON u.id = i.run_id
                WHERE i.cleaner_id = r.cleaner_id AND u.period_end > $1)
        ), cleaners AS (
            SELECT cleaner_id FROM earnings UNION SELECT cleaner_id FROM bonuses UNION SELECT cleaner_id FROM penalties
            UNION SELECT cleaner_id FROM carried
        ), lines AS (
            SELECT c.id AS cleaner_id, c.name, c.level, COALESCE(e.orders, 0)::int8 AS orders,
                   COALESCE(e.gross, 0)::int8 AS gross, COALESCE(e.commission, 0)::int8 AS commission,
                   COALESCE(b.bonus, 0)::int8 AS bonus, COALESCE(p.penalty, 0)::int8 AS penalty,
                   COALESCE(r.owed, 0)::int8 AS carried_in
            FROM cleaners AS x
            JOIN platform.cleaners AS c ON c.id = x.cleaner_id
            LEFT JOIN earnings AS e ON e.cleaner_id = x.cleaner_id
            LEFT JOIN bonuses AS b ON b.cleaner_id = x.cleaner_id
            LEFT JOIN penalties AS p ON p.cleaner_id = x.cleaner_id
            LEFT JOIN receivables AS r ON r.cleaner_id = x.cleaner_id
        )
        """

    /// `quality`: the service-quality rewards and fines decided in the period `[$1, $2)`
    /// (`ScoreServiceQuality`). A decision falls in one period, and a run gives a
    /// cleaner one line, so each is paid or deducted once, by the run of the week it
    /// was decided in — the run after the scored week's.
    static let qualityExpression = """
        quality AS (
            SELECT cleaner_id, bonus_fen, fine_fen FROM platform.quality_decisions
            WHERE (bonus_fen > 0 OR fine_fen > 0) AND decided_at >= $1 AND decided_at < $2
        )
        """

    /// The balance of a ledger account (`alias`), summed through the entries'
    /// account index one account at a time (a join would hash the whole ledger).
    private static func balanceOf(_ alias: String) -> String {
        "SELECT COALESCE(sum(e.amount_fen), 0)::int8 AS owed FROM platform.ledger_entries AS e WHERE e.account_id = \(alias).id"
    }

    /// The cleaner of the order a review or complaint (`alias`) is about, looked up
    /// by primary key. `OFFSET 0` keeps the planner from turning the lookups into a
    /// hash join over every order ever placed (a sequential scan of 11 000 000
    /// orders, 7 s, for a week's 400 000 reviews).
    private static func orderOf(_ alias: String) -> String {
        "SELECT o.cleaner_id FROM platform.orders AS o WHERE o.id = \(alias).order_id AND o.cleaner_id IS NOT NULL OFFSET 0"
    }

    /// The columns of a line, in `decode`'s order.
    static let lineColumns = "cleaner_id, name, level, orders, gross, commission, bonus, penalty, carried_in"

    /// `$3`: a run of the period, or null.
    static let linesNotInRun = """
        WITH \(lineExpressions)
        SELECT \(lineColumns) FROM lines AS l
        WHERE NOT EXISTS (SELECT 1 FROM platform.payout_items AS i WHERE i.run_id = $3::int8 AND i.cleaner_id = l.cleaner_id)
        ORDER BY cleaner_id
        """

    /// The lines settling the period now would write, by cleaner id: every cleaner
    /// with something to settle who has no line in `runID` yet (all of them when
    /// there is no run).
    static func lines(start: Date, end: Date, notIn runID: Int64?, on connection: PostgresConnection) throws -> [PayoutLine] {
        try connection.query(linesNotInRun, [start, end, runID]).rows.map { try decode($0) }
    }

    /// A line from the `lineColumns` starting at column `offset`.
    static func decode(_ row: PostgresRow, offset: Int = 0) throws -> PayoutLine {
        PayoutLine(
            cleanerID: try row.decode(offset, as: Int64.self), cleanerName: try row.decode(offset + 1, as: String.self),
            level: try row.decode(offset + 2, as: String.self), orders: Int(try row.decode(offset + 3, as: Int64.self)),
            grossFen: try row.decode(offset + 4, as: Int64.self), commissionFen: try row.decode(offset + 5, as: Int64.self),
            bonusFen: try row.decode(offset + 6, as: Int64.self), penaltyFen: try row.decode(offset + 7, as: Int64.self),
            carriedInFen: try row.decode(offset + 8, as: Int64.self))
    }
}
