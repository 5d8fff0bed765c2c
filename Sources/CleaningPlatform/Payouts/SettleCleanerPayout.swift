import Foundation
public import JobQueue
import PostgresClient

/// Pays one cleaner's line of a payout run.
///
/// Step 1: `PayoutRun.start` settled the line (computed it, recorded the orders
/// it counted, posted the settlement to the ledger) in the transaction that
/// enqueued this job.
/// Step 2: pay through the provider with the idempotency key "payout-<item>".
/// Step 3, one transaction with the job's completion: post the payout and mark
/// the line paid. A crash anywhere repeats only what did not commit, and the
/// provider sees the same key again, so nobody is paid twice or skipped. A
/// transfer the gateway refuses for good discards the job with the reason; the
/// line stays settled (owed, not paid) until the job is retried.
/// On a Citus cluster the run has no batch callback (`PayoutRun.start`): step 3
/// locks the run's row first and completes the run when its line was the last unpaid.
public struct SettleCleanerPayout: JobArguments {
    public static let kind = "payout.settle_cleaner"
    public var runID: Int64
    public var cleanerID: Int64

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(runID, "runID")
        try JobArgumentsError.requireID(cleanerID, "cleanerID")
    }

    static let findItem = "SELECT id, status, payable_fen FROM platform.payout_items WHERE run_id = $1 AND cleaner_id = $2"

    func run(_ context: JobContext, services: PlatformServices, payouts: any PayoutProvider) async throws {
        let runID = self.runID
        let cleanerID = self.cleanerID
        guard let (itemID, status, payable) = try await context.database.withConnection({ connection in
            try Self.line(runID: runID, cleanerID: cleanerID, on: connection)
        }) else { return }
        guard status == "settled", payable > 0 else {
            if status == "settled" {
                // Nothing to transfer (zero or negative net): the line is done as is.
                let now = services.clock.now
                try await context.completeInTransaction { connection in
                    try Self.markingPaid(runID: runID, at: now, on: connection) {
                        try connection.execute(
                            "UPDATE platform.payout_items SET status = 'paid', paid_at = $2 WHERE id = $1 AND status = 'settled'",
                            [itemID, now])
                    }
                }
            }
            return
        }
        let reference: String
        try await context.ensureLeaseHeld()
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
            try Self.markingPaid(runID: runID, at: now, on: connection) {
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
    }

    /// Runs `markPaid` (step 3) in the job's completing transaction; where the run has
    /// no batch callback (Citus), the run's row is locked first — the order `PayoutRun.start`
    /// takes too — and the run completed after if no line is left unpaid.
    private static func markingPaid(
        runID: Int64, at now: Date, on connection: PostgresConnection, _ markPaid: () throws -> Void
    ) throws {
        let runCompletesItself = try !connection.acceptsWorkflows()
        if runCompletesItself { try PayoutRun.lockRun(runID, on: connection) }
        try markPaid()
        if runCompletesItself { try PayoutRun.completeIfPaid(runID, at: now, on: connection) }
    }

    /// The cleaner's line of the run: (item, status, payable), nil when there is
    /// nothing to pay. A job queued by a version that settled each cleaner in its
    /// own job finds no line; it settles what is left of the run (enqueueing the
    /// payments of the other new lines) and pays its own.
    static func line(runID: Int64, cleanerID: Int64, on connection: PostgresConnection) throws -> (Int64, String, Int64)? {
        if let row = try connection.query(findItem, [runID, cleanerID]).first {
            return try row.decode((Int64, String, Int64).self)
        }
        return try connection.withTransaction { connection in
            guard let period = try PayoutPeriodBounds.of(run: runID, on: connection) else {
                throw JobDiscarded("payout run \(runID) does not exist")
            }
            _ = try PayoutRun.settle(runID: runID, period: period, batched: try connection.acceptsWorkflows(), on: connection)
            return try connection.query(findItem, [runID, cleanerID]).first?.decode((Int64, String, Int64).self)
        }
    }
}
