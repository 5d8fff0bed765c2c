import Foundation
public import JobQueue
import PostgresClient

/// Settles one cleaner for one payout run, then pays them.
///
/// Step 1, one transaction: lock the cleaner's unsettled orders of the period,
/// compute the line, post the settlement to the ledger, mark the orders settled.
/// Step 2: pay through the provider with the idempotency key "payout-<item>".
/// Step 3, one transaction with the job's completion: post the payout and mark
/// the line paid. A crash anywhere repeats only what did not commit, and the
/// provider sees the same key again, so nobody is paid twice or skipped. A
/// transfer the gateway refuses for good discards the job with the reason; the
/// line stays settled (owed, not paid) until the job is retried.
public struct SettleCleanerPayout: JobArguments {
    public static let kind = "payout.settle_cleaner"
    public var runID: Int64
    public var cleanerID: Int64

    static let findItem = "SELECT id, status, payable_fen FROM platform.payout_items WHERE run_id = $1 AND cleaner_id = $2"

    func run(_ context: JobContext, services: PlatformServices, payouts: any PayoutProvider) async throws {
        let runID = self.runID
        let cleanerID = self.cleanerID
        let (itemID, status, payable) = try await context.database.withTransaction { connection in
            try Self.settle(runID: runID, cleanerID: cleanerID, on: connection)
        }
        guard status == "settled", payable > 0 else {
            if status == "settled" {
                // Nothing to transfer (zero or negative net): the line is done as is.
                let now = services.clock.now
                try await context.completeInTransaction { connection in
                    try connection.execute(
                        "UPDATE platform.payout_items SET status = 'paid', paid_at = $2 WHERE id = $1 AND status = 'settled'",
                        [itemID, now])
                }
            }
            return
        }
        let reference: String
        switch try await payouts.pay(
            PayoutInstruction(itemID: itemID, cleanerID: cleanerID, amountFen: payable, idempotencyKey: "payout-\(itemID)"))
        {
        case .paid(let paid):
            reference = paid
        case .rejected(let reason):
            // Not paid, and no retry can change that: the line stays settled and the
            // money stays owed in the cleaner's wallet (settlement posted, payout not),
            // so the ledger balances and says what is due. Discarding keeps the reason
            // on the job and holds the run open; once the cause is fixed,
            // `jobsctl jobs retry` pays with the same idempotency key.
            throw JobDiscarded("payout rejected by the gateway: \(reason)")
        }
        let now = services.clock.now
        try await context.completeInTransaction { connection in
            let wallet = try Ledger.wallet(cleanerID, on: connection)
            let cash = try Ledger.account("platform:cash", type: "asset", on: connection)
            try Ledger.post(
                kind: "payout", reference: "payout:\(itemID)", description: "payout of run \(runID) to cleaner \(cleanerID)",
                entries: [(wallet, payable), (cash, -payable)], on: connection)
            try connection.execute(
                """
                UPDATE platform.payout_items SET status = 'paid', paid_at = $2, provider_reference = $3
                WHERE id = $1 AND status = 'settled'
                """, [itemID, now, reference])
        }
    }

    /// Computes and posts the line unless it exists; returns (item, status, payable).
    static func settle(runID: Int64, cleanerID: Int64, on connection: PostgresConnection) throws -> (Int64, String, Int64) {
        // One settlement per cleaner at a time, across runs and processes.
        try connection.query("SELECT pg_advisory_xact_lock(hashtext('payout.cleaner'), $1::int4)", [Int64(cleanerID % 2_000_000_000)])
        if let row = try connection.query(findItem, [runID, cleanerID]).first {
            return try row.decode((Int64, String, Int64).self)
        }
        let run = try connection.query(
            "SELECT period, period_start, period_end FROM platform.payout_runs WHERE id = $1", [runID]
        ).first
        guard let (name, start, end) = try run?.decode((String, Date, Date).self) else {
            throw JobDiscarded("payout run \(runID) does not exist")
        }
        let period = PayoutPeriodBounds(name: name, start: start, end: end)
        let line = try PayoutCalculation.lines(start: period.start, end: period.end, cleanerID: cleanerID, on: connection).first
            ?? PayoutLine(
                cleanerID: cleanerID, cleanerName: "", level: "", orders: 0, grossFen: 0, commissionFen: 0, bonusFen: 0,
                penaltyFen: 0, carriedInFen: 0)
        let itemID = try connection.query(
            """
            INSERT INTO platform.payout_items (run_id, cleaner_id, orders, gross_fen, commission_fen, bonus_fen, penalty_fen,
                carried_in_fen, net_fen, payable_fen, carry_out_fen)
            VALUES ($1, $2, $3::int4, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
            """,
            [
                runID, cleanerID, Int64(line.orders), line.grossFen, line.commissionFen, line.bonusFen, line.penaltyFen,
                line.carriedInFen, line.netFen, line.payableFen, line.carryOutFen,
            ]
        ).scalar(Int64.self)
        let settled = try connection.execute(
            """
            UPDATE platform.orders SET payout_item_id = $1
            WHERE cleaner_id = $2 AND status = '已完成' AND payout_item_id IS NULL
              AND completed_at >= $3 AND completed_at < $4
            """, [itemID, cleanerID, period.start, period.end])
        guard settled == line.orders else {
            throw PostgresError(kind: .client, message: "payout line for cleaner \(cleanerID) saw \(line.orders) orders but settled \(settled); retrying")
        }
        let wallet = try Ledger.wallet(cleanerID, on: connection)
        let receivable = try Ledger.receivable(cleanerID, on: connection)
        let clearing = try Ledger.account("platform:order_clearing", type: "liability", on: connection)
        let commission = try Ledger.account("platform:commission", type: "revenue", on: connection)
        let bonus = try Ledger.account("platform:bonus_expense", type: "expense", on: connection)
        let penalty = try Ledger.account("platform:penalty_income", type: "revenue", on: connection)
        try Ledger.post(
            kind: "settlement", reference: "settlement:\(itemID)",
            description: "settlement of \(name) for cleaner \(cleanerID)",
            entries: [
                (clearing, line.grossFen), (commission, -line.commissionFen), (wallet, -(line.grossFen - line.commissionFen)),
                (bonus, line.bonusFen), (wallet, -line.bonusFen),
                (wallet, line.penaltyFen), (penalty, -line.penaltyFen),
                (wallet, line.carriedInFen), (receivable, -line.carriedInFen),
                (receivable, line.carryOutFen), (wallet, -line.carryOutFen),
            ], on: connection)
        return (itemID, "settled", line.payableFen)
    }
}

struct PayoutPeriodBounds {
    var name: String
    var start: Date
    var end: Date
}
