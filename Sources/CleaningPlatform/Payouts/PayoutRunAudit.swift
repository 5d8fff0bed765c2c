import Foundation
public import PostgresClient

/// An independent check of a week's payout run, for finance and for the
/// fault-injection runs (`jobsctl payouts audit`). The expected lines are computed
/// here straight from the orders, reviews, complaints and rules tables, apart from
/// `PayoutCalculation`, and the run is compared with them and with the ledger:
/// every transaction balances, each line is settled once and paid once (exactly
/// what it owes, with the provider's reference), every completed order of the week
/// is settled once by a line of its own cleaner, and the report agrees.
public struct PayoutRunAudit: Sendable {
    public var runs = 0
    public var status = "missing"
    public var boundsMatch = false
    /// Cleaners with completed orders, bonuses or penalties in the week, or a
    /// receivable carried through it: the lines expected.
    public var expectedLines = 0
    public var lines = 0
    public var skippedCleaners = 0
    public var unexpectedLines = 0
    public var linesDifferingFromSources = 0
    public var settledOnceLines = 0
    public var paidOnceLines = 0
    public var extraPayouts = 0
    public var wrongPayoutAmounts = 0
    public var unpaidLines = 0
    public var unsentLines = 0
    public var dueOrders = 0
    public var ordersSettledOnce = 0
    public var unsettledOrders = 0
    public var straySettledOrders = 0
    public var orderCountDifference = 0
    public var unbalancedTransactions = 0
    public var strayTransactions = 0
    /// What the run's payouts took from platform:cash, in fen.
    public var paidFen: Int64 = 0
    /// Sums over the expected lines: orders, gross, commission, bonus, penalty, payable (fen).
    public var expectedTotals: [Int64] = []
    /// Totals of the run's lines (the report's TOTAL row): orders, gross, commission, bonus, penalty.
    public var reportTotals: [Int64] = []
    /// The report's paid total, in fen.
    public var reportPaidFen: Int64 = 0
    /// Reports given to compare that differ from the run's lines rendered as CSV.
    public var differingReports: [String] = []

    /// The run's items with their ledger transactions: how many settlement and payout
    /// transactions reference each, and what the payouts took from platform:cash.
    static let items = """
        i AS (
            SELECT i.*,
                   (SELECT count(*) FROM platform.ledger_transactions AS t WHERE t.reference = 'settlement:' || i.id)
                       AS n_settle,
                   (SELECT count(*) FROM platform.ledger_transactions AS t WHERE t.reference = 'payout:' || i.id)
                       AS n_pay,
                   (SELECT COALESCE(sum(e.amount_fen), 0) FROM platform.ledger_transactions AS t
                        JOIN platform.ledger_entries AS e ON e.transaction_id = t.id
                        JOIN platform.ledger_accounts AS a ON a.id = e.account_id
                    WHERE t.reference = 'payout:' || i.id AND a.code = 'platform:cash') AS cash
            FROM platform.payout_items AS i JOIN platform.payout_runs AS r ON r.id = i.run_id
            WHERE r.period = $1
        )
        """

    /// One row per cleaner the week calls for, from the source tables over `[$2, $3)`.
    static let expected = """
        done AS (
            SELECT o.cleaner_id, o.paid_fen - o.refunded_fen AS paid, r.rate_bp
            FROM platform.orders AS o JOIN platform.cleaners AS c ON c.id = o.cleaner_id
            JOIN platform.commission_rates AS r ON r.level = c.level
            WHERE o.status = '已完成' AND o.completed_at >= $2 AND o.completed_at < $3
        ), earned AS (
            SELECT cleaner_id, count(*) AS orders, sum(paid) AS gross,
                   sum((paid * rate_bp + 5000) / 10000) AS commission   -- half up, per order
            FROM done GROUP BY cleaner_id
        ), bonuses AS (
            SELECT cleaner_id, sum(bonus) AS bonus FROM (
                SELECT o.cleaner_id, count(*) * (SELECT amount_fen FROM platform.payout_rules
                                                WHERE code = 'five_star_review') AS bonus
                FROM platform.reviews AS v JOIN platform.orders AS o ON o.id = v.order_id
                WHERE v.rating = 5 AND NOT queue.is_blank(v.comment) AND o.cleaner_id IS NOT NULL
                  AND v.created_at >= $2 AND v.created_at < $3
                GROUP BY o.cleaner_id
                UNION ALL   -- service-quality rewards decided in the week
                SELECT q.cleaner_id, q.bonus_fen FROM platform.quality_decisions AS q
                WHERE q.bonus_fen > 0 AND q.decided_at >= $2 AND q.decided_at < $3
            ) AS b GROUP BY cleaner_id
        ), penalties AS (
            SELECT cleaner_id, sum(penalty) AS penalty FROM (
                SELECT o.cleaner_id, -count(*) * (SELECT amount_fen FROM platform.payout_rules
                                                 WHERE code = 'upheld_complaint') AS penalty
                FROM platform.complaints AS k JOIN platform.orders AS o ON o.id = k.order_id
                WHERE k.outcome = 'upheld' AND o.cleaner_id IS NOT NULL
                  AND k.resolved_at >= $2 AND k.resolved_at < $3
                GROUP BY o.cleaner_id
                UNION ALL   -- service-quality fines decided in the week
                SELECT q.cleaner_id, q.fine_fen FROM platform.quality_decisions AS q
                WHERE q.fine_fen > 0 AND q.decided_at >= $2 AND q.decided_at < $3
            ) AS p GROUP BY cleaner_id
        ), owed_before AS (
            -- Receivables from before the week: every receivable entry but those of
            -- the settlements of this week's and later weeks' lines.
            SELECT a.cleaner_id, sum(e.amount_fen) AS owed
            FROM platform.ledger_accounts AS a
            JOIN platform.ledger_entries AS e ON e.account_id = a.id
            JOIN platform.ledger_transactions AS t ON t.id = e.transaction_id
            WHERE a.code LIKE 'cleaner:%:receivable'
              AND NOT EXISTS (
                  SELECT 1 FROM platform.payout_items AS pi JOIN platform.payout_runs AS pr ON pr.id = pi.run_id
                  WHERE pr.period_end > $2 AND t.reference = 'settlement:' || pi.id)
            GROUP BY a.cleaner_id
        ), carried AS (
            -- Owed coming into the week and not carried by a later week's line: the
            -- cleaner has a line even without orders, bonuses or penalties.
            SELECT w.cleaner_id, w.owed FROM owed_before AS w
            WHERE w.owed > 0 AND NOT EXISTS (
                SELECT 1 FROM platform.payout_items AS pi JOIN platform.payout_runs AS pr ON pr.id = pi.run_id
                WHERE pi.cleaner_id = w.cleaner_id AND pr.period_end > $2 AND pr.period <> $1)
        ), x AS (
            SELECT c.cleaner_id, COALESCE(e.orders, 0)::int8 AS orders, COALESCE(e.gross, 0)::int8 AS gross,
                   COALESCE(e.commission, 0)::int8 AS commission, COALESCE(b.bonus, 0)::int8 AS bonus,
                   COALESCE(p.penalty, 0)::int8 AS penalty, k.owed::int8 AS carried_in
            FROM (SELECT cleaner_id FROM earned UNION SELECT cleaner_id FROM bonuses
                  UNION SELECT cleaner_id FROM penalties UNION SELECT cleaner_id FROM carried) AS c
            LEFT JOIN earned AS e USING (cleaner_id) LEFT JOIN bonuses AS b USING (cleaner_id)
            LEFT JOIN penalties AS p USING (cleaner_id) LEFT JOIN carried AS k USING (cleaner_id)
        )
        """

    static let figures = """
        WITH \(items), \(expected),
        o AS (
            SELECT o.id, o.cleaner_id, s.payout_item_id,
                   o.status = '已完成' AND o.completed_at >= $2 AND o.completed_at < $3 AS due
            FROM platform.orders AS o LEFT JOIN platform.order_settlements AS s ON s.order_id = o.id
        )
        SELECT (SELECT count(*) FROM platform.payout_runs WHERE period = $1),
               COALESCE((SELECT status FROM platform.payout_runs WHERE period = $1), 'missing'),
               COALESCE((SELECT period_start = $2 AND period_end = $3 FROM platform.payout_runs WHERE period = $1),
                        false),
               (SELECT count(*) FROM x),
               (SELECT count(*) FROM i),
               (SELECT count(*) FROM x WHERE NOT EXISTS (SELECT 1 FROM i WHERE i.cleaner_id = x.cleaner_id)),
               (SELECT count(*) FROM i WHERE NOT EXISTS (SELECT 1 FROM x WHERE x.cleaner_id = i.cleaner_id)),
               (SELECT count(*) FROM i JOIN x USING (cleaner_id)
                WHERE (i.orders::int8, i.gross_fen, i.commission_fen, i.bonus_fen, i.penalty_fen, i.carried_in_fen,
                       i.net_fen, i.payable_fen, i.carry_out_fen)
                      IS DISTINCT FROM (x.orders, x.gross, x.commission, x.bonus, x.penalty,
                       COALESCE(x.carried_in, i.carried_in_fen),
                       x.gross - x.commission + x.bonus - x.penalty - i.carried_in_fen,
                       GREATEST(x.gross - x.commission + x.bonus - x.penalty - i.carried_in_fen, 0),
                       GREATEST(-(x.gross - x.commission + x.bonus - x.penalty - i.carried_in_fen), 0))),
               (SELECT count(*) FROM i WHERE n_settle = 1),
               (SELECT count(*) FROM i WHERE status = 'paid'
                  AND ((payable_fen > 0 AND n_pay = 1 AND cash = -payable_fen) OR (payable_fen = 0 AND n_pay = 0))),
               (SELECT COALESCE(sum(GREATEST(n_pay - (payable_fen > 0)::int, 0)), 0) FROM i),
               (SELECT count(*) FROM i WHERE n_pay >= 1 AND cash <> -payable_fen),
               (SELECT count(*) FROM i WHERE status <> 'paid'),
               (SELECT count(*) FROM i WHERE payable_fen > 0 AND provider_reference IS NULL),
               (SELECT count(*) FROM o WHERE due),
               (SELECT count(*) FROM o JOIN i ON i.id = o.payout_item_id
                WHERE o.due AND i.cleaner_id = o.cleaner_id AND i.n_settle = 1),
               (SELECT count(*) FROM o WHERE due AND (payout_item_id IS NULL
                    OR payout_item_id NOT IN (SELECT id FROM i))),
               (SELECT count(*) FROM o JOIN i ON i.id = o.payout_item_id WHERE NOT o.due OR i.cleaner_id <> o.cleaner_id),
               (SELECT COALESCE(sum(orders), 0) FROM i) - (SELECT count(*) FROM o JOIN i ON i.id = o.payout_item_id),
               (SELECT count(*) FROM (SELECT transaction_id FROM platform.ledger_entries
                                      GROUP BY transaction_id HAVING sum(amount_fen) <> 0) AS u),
               (SELECT count(*) FROM platform.ledger_transactions AS t
                WHERE (t.reference LIKE 'settlement:%' OR t.reference LIKE 'payout:%')
                  AND NOT EXISTS (SELECT 1 FROM platform.payout_items AS pi
                                  WHERE t.reference IN ('settlement:' || pi.id, 'payout:' || pi.id))),
               (SELECT -COALESCE(sum(cash), 0) FROM i),
               (SELECT COALESCE(sum(orders), 0) FROM x), (SELECT COALESCE(sum(gross), 0) FROM x),
               (SELECT COALESCE(sum(commission), 0) FROM x), (SELECT COALESCE(sum(bonus), 0) FROM x),
               (SELECT COALESCE(sum(penalty), 0) FROM x)
        """

    /// Audits the run of `period`; `reports` are CSV files that must equal its lines' report.
    public static func of(
        _ period: PayoutPeriod, reports: [String] = [], on connection: PostgresConnection
    ) throws -> PayoutRunAudit {
        var audit = PayoutRunAudit()
        guard let row = try connection.query(figures, [period.name, period.start, period.end]).first else {
            return audit
        }
        var column = 0
        func count() throws -> Int {
            defer { column += 1 }
            return Int(try row.decode(column, as: Int64.self))
        }
        func fen() throws -> Int64 {
            defer { column += 1 }
            return try row.decode(column, as: Int64.self)
        }
        audit.runs = try count()
        audit.status = try row.decode(column, as: String.self)
        column += 1
        audit.boundsMatch = try row.decode(column, as: Bool.self)
        column += 1
        audit.expectedLines = try count()
        audit.lines = try count()
        audit.skippedCleaners = try count()
        audit.unexpectedLines = try count()
        audit.linesDifferingFromSources = try count()
        audit.settledOnceLines = try count()
        audit.paidOnceLines = try count()
        audit.extraPayouts = try count()
        audit.wrongPayoutAmounts = try count()
        audit.unpaidLines = try count()
        audit.unsentLines = try count()
        audit.dueOrders = try count()
        audit.ordersSettledOnce = try count()
        audit.unsettledOrders = try count()
        audit.straySettledOrders = try count()
        audit.orderCountDifference = try count()
        audit.unbalancedTransactions = try count()
        audit.strayTransactions = try count()
        audit.paidFen = try fen()
        audit.expectedTotals = try (0..<5).map { _ in try fen() }
        if let runID = try connection.query("SELECT id FROM platform.payout_runs WHERE period = $1", [period.name])
            .first?.decode(0, as: Int64.self)
        {
            let lines = try PayoutRun.lines(runID, on: connection)
            let csv = PayoutReport.csv(lines)
            audit.differingReports = reports.filter { (try? String(contentsOfFile: $0, encoding: .utf8)) != csv }
            let totals = PayoutReport.Totals(lines)
            audit.reportTotals = [Int64(totals.orders), totals.gross, totals.commission, totals.bonus, totals.penalty]
            audit.reportPaidFen = totals.paid
        } else {
            audit.differingReports = reports
        }
        return audit
    }

    /// What is wrong, one line each; empty when the run is complete and correct.
    public var failures: [String] {
        var failures: [String] = []
        func rule(_ holds: Bool, _ message: @autoclosure () -> String) {
            if !holds { failures.append(message()) }
        }
        rule(runs == 1, "\(runs) payout runs for the period")
        rule(status == "completed", "the payout run's status is '\(status)'")
        rule(boundsMatch, "the run's period_start/period_end are not Monday to Monday of the week in the business time zone")
        rule(
            lines == expectedLines && skippedCleaners == 0 && unexpectedLines == 0,
            "\(lines) lines for \(expectedLines) cleaners with something to settle: \(skippedCleaners) skipped, "
                + "\(unexpectedLines) unexpected")
        rule(
            linesDifferingFromSources == 0,
            "\(linesDifferingFromSources) lines differ from the figures computed from the orders, reviews and complaints")
        rule(settledOnceLines == lines, "\(lines - settledOnceLines) lines without exactly one settlement:<item> transaction")
        rule(
            paidOnceLines == lines,
            "\(lines - paidOnceLines) lines not paid exactly once (paid status, one payout:<item> transaction of "
                + "payable_fen when payable_fen > 0, none otherwise)")
        rule(extraPayouts == 0, "\(extraPayouts) payout transactions beyond one per line with something to pay")
        rule(wrongPayoutAmounts == 0, "\(wrongPayoutAmounts) payout transactions whose platform:cash entry is not -payable_fen")
        rule(unpaidLines == 0, "\(unpaidLines) lines not marked paid")
        rule(unsentLines == 0, "\(unsentLines) lines with something to pay have no provider reference (never sent)")
        rule(
            ordersSettledOnce == dueOrders && unsettledOrders == 0,
            "\(ordersSettledOnce) of \(dueOrders) completed orders of the week settled by a line of this run; "
                + "\(unsettledOrders) not")
        rule(
            straySettledOrders == 0,
            "\(straySettledOrders) orders settled by this run are not completed orders of the week of the line's cleaner")
        rule(orderCountDifference == 0, "the lines' order counts differ from the orders they settled by \(orderCountDifference)")
        rule(unbalancedTransactions == 0, "\(unbalancedTransactions) ledger transactions do not sum to zero")
        rule(strayTransactions == 0, "\(strayTransactions) settlement or payout transactions reference no payout line")
        rule(
            reportTotals.isEmpty || reportTotals == expectedTotals,
            "the report's totals \(reportTotals) differ from orders, gross, commission, bonuses and penalties "
                + "computed from the source tables \(expectedTotals)")
        rule(
            reportTotals.isEmpty || reportPaidFen == paidFen,
            "the report's paid total is \(reportPaidFen) fen; the payouts took \(paidFen) fen from platform:cash")
        rule(
            differingReports.isEmpty,
            "\(differingReports.count) report(s) differ from the run's lines: \(differingReports.joined(separator: ", "))")
        return failures
    }
}
