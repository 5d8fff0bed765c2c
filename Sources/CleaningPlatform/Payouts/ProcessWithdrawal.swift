import Foundation
public import JobQueue
import PostgresClient

/// Pays a cleaner's withdrawal request from their wallet balance, never below
/// zero and never from money a payout run is about to pay out: the wallet is
/// locked, the balance checked, and the
/// withdrawal posted in the same transaction as the job's completion. A transfer
/// the gateway refuses for good is reversed and the request rejected.
public struct ProcessWithdrawal: JobArguments {
    public static let kind = "payout.withdrawal"
    public var withdrawalID: Int64

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(withdrawalID, "withdrawalID")
    }

    /// One withdrawal per wallet at a time, so two cannot both spend one balance.
    /// An advisory lock rather than a row lock on the account: the worker role may
    /// add ledger accounts but not change them, and FOR UPDATE needs that right.
    static let lockWallet = "SELECT pg_advisory_xact_lock(hashtext('payout.wallet'), hashtext($1::text))"

    /// The wallet's balance and the part of it a payout run settled but has not paid
    /// yet (its payment job transfers it and then debits the wallet), in one
    /// statement so both come from the same snapshot. Withdrawing that part as well
    /// would pay the cleaner twice.
    static let withdrawable = """
        SELECT -(SELECT COALESCE(sum(amount_fen), 0) FROM platform.ledger_entries WHERE account_id = $1)::int8,
               (SELECT COALESCE(sum(payable_fen), 0) FROM platform.payout_items
                WHERE cleaner_id = $2 AND status = 'settled')::int8
        """

    func run(_ context: JobContext, services: PlatformServices, payouts: any PayoutProvider) async throws {
        let id = withdrawalID
        let now = services.clock.now
        // Decide and post first (locked); pay after; a retry finds it decided.
        let decision = try await context.database.withTransaction { connection -> (Int64, Int64)? in
            guard let row = try connection.query(
                "SELECT cleaner_id, amount_fen, status FROM platform.withdrawals WHERE id = $1 FOR UPDATE", [id]
            ).first else { throw JobDiscarded("withdrawal \(id) does not exist") }
            let (cleanerID, amount, status) = try row.decode((Int64, Int64, String).self)
            guard status == "requested" else { return status == "paid" ? (cleanerID, amount) : nil }
            let wallet = try Ledger.wallet(cleanerID, on: connection)
            try connection.query(Self.lockWallet, [wallet])
            let (balance, owedByPayouts) = try connection.query(Self.withdrawable, [wallet, cleanerID])
                .first!.decode((Int64, Int64).self)
            guard amount <= balance - owedByPayouts else {
                let reason = owedByPayouts == 0
                    ? "insufficient balance: requested \(amount) fen, wallet holds \(balance) fen"
                    : "insufficient balance: requested \(amount) fen, wallet holds \(balance) fen of which "
                        + "\(owedByPayouts) fen are settled in a payout run and paid out by it"
                try connection.execute(
                    "UPDATE platform.withdrawals SET status = 'rejected', processed_at = $2, reason = $3 WHERE id = $1",
                    [id, now, reason])
                return nil
            }
            let cash = try Ledger.account("platform:cash", type: "asset", on: connection)
            try Ledger.post(
                kind: "withdrawal", reference: "withdrawal:\(id)", description: "withdrawal \(id) by cleaner \(cleanerID)",
                entries: [(wallet, amount), (cash, -amount)], on: connection)
            try connection.execute(
                "UPDATE platform.withdrawals SET status = 'paid', processed_at = $2 WHERE id = $1", [id, now])
            return (cleanerID, amount)
        }
        guard let (cleanerID, amount) = decision else { return }
        try await context.ensureLeaseHeld()
        let result = try await payouts.pay(
            PayoutInstruction(itemID: id, cleanerID: cleanerID, amountFen: amount, idempotencyKey: "withdrawal-\(id)"))
        guard case .rejected(let reason) = result else { return }
        // Refused for good: the money never left, so the posting is reversed (back to
        // the wallet) and the request rejected with the reason, with the job's
        // completion; a retry then finds it decided and pays nothing.
        try await context.completeInTransaction { connection in
            let wallet = try Ledger.wallet(cleanerID, on: connection)
            let cash = try Ledger.account("platform:cash", type: "asset", on: connection)
            try Ledger.post(
                kind: "withdrawal", reference: "withdrawal-reversal:\(id)",
                description: "withdrawal \(id) refused by the payout gateway", entries: [(wallet, -amount), (cash, amount)],
                on: connection)
            try connection.execute(
                "UPDATE platform.withdrawals SET status = 'rejected', reason = $2 WHERE id = $1 AND status = 'paid'",
                [id, "payout rejected by the gateway: \(reason)"])
        }
    }
}
