import Foundation
import PostgresClient

/// One cleaner's numbers for a period, computed in SQL from the rules tables.
public struct PayoutLine: Sendable, Equatable {
    public var cleanerID: Int64
    public var cleanerName: String
    public var level: String
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

/// The settlement arithmetic. One statement computes every cleaner's line for a
/// period (or one cleaner's): gross = paid minus refunded per completed,
/// unsettled order; commission per order = paid × rate by level, rounded half
/// up to the fen; bonuses for 5-star reviews with a comment written in the
/// period; penalties for complaints upheld in the period; what a cleaner still
/// owes from earlier periods (the receivable) is carried in.
enum PayoutCalculation {
    /// Every cleaner's line for a period: scans the period's orders, reviews and
    /// complaints once.
    static let allCleaners = """
        WITH eligible AS (
            SELECT o.id, o.cleaner_id, o.paid_fen - o.refunded_fen AS paid,
                   ((o.paid_fen - o.refunded_fen) * r.rate_bp + 5000) / 10000 AS commission
            FROM platform.orders AS o
            JOIN platform.cleaners AS c ON c.id = o.cleaner_id
            JOIN platform.commission_rates AS r ON r.level = c.level
            WHERE o.status = '已完成' AND o.payout_item_id IS NULL
              AND o.completed_at >= $1 AND o.completed_at < $2
        ), earnings AS (
            SELECT cleaner_id, count(*) AS orders, sum(paid) AS gross, sum(commission) AS commission
            FROM eligible GROUP BY cleaner_id
        ), bonuses AS (
            SELECT o.cleaner_id, count(*) * (SELECT amount_fen FROM platform.payout_rules WHERE code = 'five_star_review') AS bonus
            FROM platform.reviews AS v JOIN platform.orders AS o ON o.id = v.order_id
            WHERE v.rating = 5 AND btrim(v.comment) <> '' AND v.created_at >= $1 AND v.created_at < $2
              AND o.cleaner_id IS NOT NULL
            GROUP BY o.cleaner_id
        ), penalties AS (
            SELECT o.cleaner_id, -count(*) * (SELECT amount_fen FROM platform.payout_rules WHERE code = 'upheld_complaint') AS penalty
            FROM platform.complaints AS k JOIN platform.orders AS o ON o.id = k.order_id
            WHERE k.status = 'upheld' AND k.resolved_at >= $1 AND k.resolved_at < $2
              AND o.cleaner_id IS NOT NULL
            GROUP BY o.cleaner_id
        ), cleaners AS (
            SELECT cleaner_id FROM earnings UNION SELECT cleaner_id FROM bonuses UNION SELECT cleaner_id FROM penalties
        ), receivables AS (
            SELECT a.cleaner_id, COALESCE(sum(e.amount_fen), 0) AS owed
            FROM platform.ledger_accounts AS a JOIN platform.ledger_entries AS e ON e.account_id = a.id
            WHERE a.code LIKE 'cleaner:%:receivable' AND a.cleaner_id IN (SELECT cleaner_id FROM cleaners)
            GROUP BY a.cleaner_id
        )
        SELECT c.id, c.name, c.level, COALESCE(e.orders, 0)::int8, COALESCE(e.gross, 0)::int8,
               COALESCE(e.commission, 0)::int8, COALESCE(b.bonus, 0)::int8, COALESCE(p.penalty, 0)::int8,
               GREATEST(COALESCE(r.owed, 0), 0)::int8
        FROM cleaners AS x
        JOIN platform.cleaners AS c ON c.id = x.cleaner_id
        LEFT JOIN earnings AS e ON e.cleaner_id = x.cleaner_id
        LEFT JOIN bonuses AS b ON b.cleaner_id = x.cleaner_id
        LEFT JOIN penalties AS p ON p.cleaner_id = x.cleaner_id
        LEFT JOIN receivables AS r ON r.cleaner_id = x.cleaner_id
        ORDER BY c.id
        """


    /// One cleaner's figures, as small statements that each use the cleaner's
    /// indexes: every one of a run's thousands of settlement jobs costs the same
    /// whatever the size of the period (one big statement per job was planned
    /// badly once cached, hashing the whole week's reviews).
    static let cleanerEarnings = """
        SELECT c.name, c.level, count(o.id)::int8, COALESCE(sum(o.paid_fen - o.refunded_fen), 0)::int8,
               COALESCE(sum(((o.paid_fen - o.refunded_fen) * r.rate_bp + 5000) / 10000), 0)::int8
        FROM platform.cleaners AS c
        JOIN platform.commission_rates AS r ON r.level = c.level
        LEFT JOIN platform.orders AS o ON o.cleaner_id = c.id AND o.status = '已完成' AND o.payout_item_id IS NULL
            AND o.completed_at >= $1 AND o.completed_at < $2
        WHERE c.id = $3
        GROUP BY c.name, c.level
        """

    /// Bonuses and penalties: LATERAL lookups from the cleaner's orders (OFFSET 0
    /// keeps the planner from flattening them into a hash join over the whole week),
    /// so the plan stays index-driven even when PostgreSQL switches the cached
    /// statement to a generic plan.
    static let cleanerAdjustments = """
        SELECT
            (SELECT count(*) FROM platform.orders AS o
             CROSS JOIN LATERAL (SELECT 1 FROM platform.reviews AS v WHERE v.order_id = o.id AND v.rating = 5
                                 AND btrim(v.comment) <> '' AND v.created_at >= $1 AND v.created_at < $2
                                 OFFSET 0) AS r
             WHERE o.cleaner_id = $3)
            * (SELECT amount_fen FROM platform.payout_rules WHERE code = 'five_star_review'),
            -(SELECT count(*) FROM platform.orders AS o
              CROSS JOIN LATERAL (SELECT 1 FROM platform.complaints AS k WHERE k.order_id = o.id
                                  AND k.status = 'upheld' AND k.resolved_at >= $1 AND k.resolved_at < $2
                                  OFFSET 0) AS k
              WHERE o.cleaner_id = $3)
            * (SELECT amount_fen FROM platform.payout_rules WHERE code = 'upheld_complaint')
        """

    /// What the cleaner still owes from earlier periods. The account id is looked up
    /// first and passed as a value: with a subquery in its place PostgreSQL scanned
    /// every ledger entry once per job.
    static let receivableAccount = "SELECT id FROM platform.ledger_accounts WHERE code = 'cleaner:' || $1 || ':receivable'"
    static let accountBalance = "SELECT COALESCE(sum(amount_fen), 0)::int8 FROM platform.ledger_entries WHERE account_id = $1"

    /// The line of one cleaner, or nil when there is nothing to settle.
    static func line(start: Date, end: Date, cleanerID: Int64, on connection: PostgresConnection) throws -> PayoutLine? {
        guard let earnings = try connection.query(cleanerEarnings, [start, end, cleanerID]).first else { return nil }
        let (name, level, orders, gross, commission) = try earnings.decode((String, String, Int64, Int64, Int64).self)
        let (bonus, penalty) = try connection.query(cleanerAdjustments, [start, end, cleanerID]).first!
            .decode((Int64, Int64).self)
        var carried: Int64 = 0
        if let account = try connection.query(receivableAccount, [cleanerID]).first?.decode(0, as: Int64.self) {
            carried = max(try connection.query(accountBalance, [account]).scalar(Int64.self), 0)
        }
        let line = PayoutLine(
            cleanerID: cleanerID, cleanerName: name, level: level, orders: Int(orders), grossFen: gross,
            commissionFen: commission, bonusFen: bonus, penaltyFen: penalty, carriedInFen: carried)
        return orders == 0 && bonus == 0 && penalty == 0 ? nil : line
    }

    static func lines(start: Date, end: Date, cleanerID: Int64? = nil, on connection: PostgresConnection) throws
        -> [PayoutLine]
    {
        if let cleanerID {
            return try line(start: start, end: end, cleanerID: cleanerID, on: connection).map { [$0] } ?? []
        }
        return try connection.query(allCleaners, [start, end]).rows.map { row in
            let (id, name, level, orders, gross, commission, bonus, penalty, carried) = try row.decode(
                (Int64, String, String, Int64, Int64, Int64, Int64, Int64, Int64).self)
            return PayoutLine(
                cleanerID: id, cleanerName: name, level: level, orders: Int(orders), grossFen: gross,
                commissionFen: commission, bonusFen: bonus, penaltyFen: penalty, carriedInFen: carried)
        }
    }
}
