import Foundation
import PostgresClient

/// Settles a payout run set-based, in the caller's transaction. Every cleaner with
/// something to settle in the run's period and no line in the run yet gets a line,
/// the orders it counted are recorded as settled by it, and its settlement is
/// posted to the ledger. Paying the lines is left to one job per cleaner.
///
/// A whole week is a few statements instead of a dozen per cleaner: the lines,
/// the line rows and the settled orders come from one statement (one snapshot, so
/// the orders recorded are exactly the ones counted), the ledger from three more.
/// Settling again finds nothing new: the orders are settled and the cleaners have
/// their lines.
enum PayoutSettlement {
    /// A line written by `settle`.
    struct Settled {
        var itemID: Int64
        var line: PayoutLine
    }

    /// `$1`, `$2`: the period; `$3`: the run. A cleaner who has a line in the run
    /// already keeps it (their orders stay as they are); returns the new lines.
    static let settleLines = """
        WITH \(PayoutCalculation.lineExpressions), items AS (
            INSERT INTO platform.payout_items (run_id, cleaner_id, orders, gross_fen, commission_fen, bonus_fen,
                penalty_fen, carried_in_fen, net_fen, payable_fen, carry_out_fen)
            SELECT $3, l.cleaner_id, l.orders, l.gross, l.commission, l.bonus, l.penalty, l.carried_in,
                   n.net, GREATEST(n.net, 0), GREATEST(-n.net, 0)
            FROM lines AS l
            CROSS JOIN LATERAL (SELECT l.gross - l.commission + l.bonus - l.penalty - l.carried_in AS net) AS n
            ON CONFLICT (run_id, cleaner_id) DO NOTHING
            RETURNING id, cleaner_id
        ), settled AS (
            INSERT INTO platform.order_settlements (order_id, payout_item_id)
            SELECT e.id, i.id FROM eligible AS e JOIN items AS i ON i.cleaner_id = e.cleaner_id
        )
        SELECT i.id, \(PayoutCalculation.lineColumns)
        FROM items AS i JOIN lines AS l USING (cleaner_id)
        ORDER BY cleaner_id
        """

    /// Settles what is left to settle of the run; returns the lines it wrote.
    static func settle(runID: Int64, period: PayoutPeriodBounds, on connection: PostgresConnection) throws -> [Settled] {
        // One settlement at a time, across runs and processes: a cleaner's
        // receivable is carried into one line only.
        try connection.query("SELECT pg_advisory_xact_lock(hashtext('payout.settlement'), 0)")
        let settled = try connection.query(settleLines, [period.start, period.end, runID]).rows.map { row in
            Settled(itemID: try row.decode(0, as: Int64.self), line: try PayoutCalculation.decode(row, offset: 1))
        }
        guard !settled.isEmpty else { return [] }
        let accounts = try Ledger.cleanerAccounts(settled.map(\.line.cleanerID), on: connection)
        let clearing = try Ledger.account("platform:order_clearing", type: "liability", on: connection)
        let commission = try Ledger.account("platform:commission", type: "revenue", on: connection)
        let bonus = try Ledger.account("platform:bonus_expense", type: "expense", on: connection)
        let penalty = try Ledger.account("platform:penalty_income", type: "revenue", on: connection)
        try Ledger.postMany(
            kind: "settlement",
            settled.map { item in
                let line = item.line
                let (wallet, receivable) = accounts[line.cleanerID]!
                return Ledger.Posting(
                    reference: "settlement:\(item.itemID)",
                    description: "settlement of \(period.name) for cleaner \(line.cleanerID)",
                    entries: [
                        (clearing, line.grossFen), (commission, -line.commissionFen),
                        (wallet, -(line.grossFen - line.commissionFen)),
                        (bonus, line.bonusFen), (wallet, -line.bonusFen),
                        (wallet, line.penaltyFen), (penalty, -line.penaltyFen),
                        (wallet, line.carriedInFen), (receivable, -line.carriedInFen),
                        (receivable, line.carryOutFen), (wallet, -line.carryOutFen),
                    ])
            }, on: connection)
        return settled
    }
}

/// A run's period as stored with the run.
struct PayoutPeriodBounds {
    var name: String
    var start: Date
    var end: Date

    init(name: String, start: Date, end: Date) {
        self.name = name
        self.start = start
        self.end = end
    }

    init(_ period: PayoutPeriod) {
        self.init(name: period.name, start: period.start, end: period.end)
    }

    /// The bounds of run `runID`, nil when there is no such run.
    static func of(run runID: Int64, on connection: PostgresConnection) throws -> PayoutPeriodBounds? {
        guard let row = try connection.query(
            "SELECT period, period_start, period_end FROM platform.payout_runs WHERE id = $1", [runID]
        ).first else { return nil }
        let (name, start, end) = try row.decode((String, Date, Date).self)
        return PayoutPeriodBounds(name: name, start: start, end: end)
    }
}
