public import Foundation
public import JobQueue
public import PostgresClient

/// Starting a payout run and reading its result, for the admin CLI.
public enum PayoutRun {
    public static let queue = "payouts"

    public struct Started: Sendable {
        public var runID: Int64
        public var cleanerJobs: Int
        public var alreadyComplete: Bool
    }

    /// Creates the period's run (or finds it), settles every cleaner with something
    /// to settle (`PayoutSettlement`: lines, settled orders and ledger postings,
    /// set-based) and enqueues one payment job per new line, plus the run's
    /// completion callback, all in one transaction: a crash leaves all of it or
    /// none. Payment jobs have unique keys held for good, so running the command
    /// again — or twice at once — adds nothing that exists.
    /// The callback's key is held only while it waits or runs: a run held open by
    /// a discarded payment (a refused transfer) gets a new callback from the
    /// next start once that job was retried, and is then completed.
    /// On a Citus cluster, which refuses batches, there is no callback: the payment
    /// that pays the last line completes the run (`SettleCleanerPayout`), and a run
    /// with nothing left to pay is completed here (docs/scaling.md, "The payout run
    /// on Citus").
    public static func start(_ period: PayoutPeriod, on connection: PostgresConnection) throws -> Started {
        try connection.withTransaction { connection in
            let run = try connection.query(
                """
                INSERT INTO platform.payout_runs (period, period_start, period_end) VALUES ($1, $2, $3)
                ON CONFLICT (period) DO UPDATE SET period = EXCLUDED.period
                RETURNING id, status
                """, [period.name, period.start, period.end]
            ).first!
            let (runID, status) = try run.decode((Int64, String).self)
            let batched = try connection.acceptsWorkflows()
            let inserted = try settle(runID: runID, period: PayoutPeriodBounds(period), batched: batched, on: connection)
            if status != "completed" || inserted > 0 {
                try connection.execute("UPDATE platform.payout_runs SET status = 'running', completed_at = NULL WHERE id = $1", [runID])
                if batched {
                    try connection.enqueue(
                        try JobRequest(
                            FinishPayoutRun(runID: runID), queue: queue,
                            uniqueKey: "payout-finish:\(runID):\(inserted)",
                            uniqueScope: .active, callbackForBatch: batchID(runID)))
                } else {
                    try completeIfPaid(runID, at: Date(), on: connection)
                }
            }
            return Started(runID: runID, cleanerJobs: inserted, alreadyComplete: status == "completed" && inserted == 0)
        }
    }

    /// Settles what is left of the run and enqueues a payment job for each new
    /// line, in the caller's transaction; returns how many jobs were enqueued.
    /// The jobs form the run's batch when `batched` — where the database runs batches
    /// (`acceptsWorkflows`: not on Citus).
    static func settle(runID: Int64, period: PayoutPeriodBounds, batched: Bool, on connection: PostgresConnection) throws -> Int {
        let settled = try PayoutSettlement.settle(runID: runID, period: period, on: connection)
        let batch = batched ? batchID(runID) : nil
        let jobs = try settled.map { item in
            try JobRequest(
                SettleCleanerPayout(runID: runID, cleanerID: item.line.cleanerID), queue: queue, maxAttempts: 25,
                uniqueKey: "payout:\(runID):\(item.line.cleanerID)", uniqueScope: .always, batchID: batch)
        }
        return try connection.enqueue(jobs).filter(\.inserted).count
    }

    /// The batch of the run's settlement jobs.
    static func batchID(_ runID: Int64) -> String { "payout-run-\(runID)" }

    /// Completes the run when every line of it is paid (a run without lines too).
    /// Whoever calls it in a transaction that paid a line must have locked the run's
    /// row first (`lockRun`): two payments finishing at once would otherwise each see
    /// the other's line unpaid, and neither would complete the run.
    static func completeIfPaid(_ runID: Int64, at now: Date, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            UPDATE platform.payout_runs SET status = 'completed', completed_at = $2
            WHERE id = $1 AND NOT EXISTS (
                SELECT 1 FROM platform.payout_items WHERE run_id = $1 AND status <> 'paid')
            """, [runID, now])
    }

    /// Locks the run's row for the rest of the caller's transaction (see `completeIfPaid`).
    static func lockRun(_ runID: Int64, on connection: PostgresConnection) throws {
        try connection.execute("SELECT FROM platform.payout_runs WHERE id = $1 FOR UPDATE", [runID])
    }

    /// True once every cleaner of the run is settled and paid.
    public static func isComplete(_ runID: Int64, on connection: PostgresConnection) throws -> Bool {
        try connection.query("SELECT status = 'completed' FROM platform.payout_runs WHERE id = $1", [runID]).scalar(Bool.self)
    }

    /// A cleaner of the run whose settlement job gave up, and why.
    public struct Failure: Sendable, Equatable {
        public var cleanerID: Int64
        public var reason: String
    }

    /// Cleaners whose settlement job was discarded — a transfer the gateway refused
    /// for good, or retries exhausted — with the job's last error. Each holds the
    /// run open until its job is retried (`jobsctl jobs retry`).
    public static func failures(_ runID: Int64, on connection: PostgresConnection) throws -> [Failure] {
        try discardedPayments(runID, on: connection)
            .map { Failure(cleanerID: $0.arguments.cleanerID, reason: $0.lastError) }
            .sorted { $0.cleanerID < $1.cleanerID }
    }

    /// The run's settlement jobs that gave up, found by their arguments: on Citus
    /// they form no batch.
    static func discardedPayments(
        _ runID: Int64, on connection: PostgresConnection
    ) throws -> [JobAdministration.KindJob<SettleCleanerPayout>] {
        try JobAdministration.jobs(SettleCleanerPayout.self, state: .discarded, on: connection)
            .filter { $0.arguments.runID == runID }
    }

    /// Retries the transfer to one cleaner whose settlement job gave up (refused by
    /// the gateway, or out of attempts), as `jobsctl jobs retry` does: the same job
    /// runs again and pays with the same idempotency key, so the cleaner is paid
    /// once however often this is asked; then the period is started again, which
    /// queues the run's completion callback behind the retried job, so the run
    /// completes once everyone is paid. False when that cleaner has no failed
    /// transfer in the run (already retried, or never failed).
    public static func retryFailedTransfer(
        runID: Int64, cleanerID: Int64, timeZone: TimeZone, on database: PostgresPool
    ) async throws -> Bool {
        let failed = try await database.withConnection { connection in
            try discardedPayments(runID, on: connection).first { $0.arguments.cleanerID == cleanerID }
        }
        guard let failed, try await JobAdministration(database: database).retry(failed.id) == .done else { return false }
        try await database.withConnection { connection in
            let name = try connection.query("SELECT period FROM platform.payout_runs WHERE id = $1", [runID]).scalar(String.self)
            _ = try start(try PayoutPeriod(name, timeZone: timeZone), on: connection)
        }
        return true
    }

    /// The run's lines as recorded (after the run).
    public static func lines(_ runID: Int64, on connection: PostgresConnection) throws -> [PayoutLine] {
        try connection.query(
            """
            SELECT i.cleaner_id, c.name, c.level, i.orders::int8, i.gross_fen, i.commission_fen, i.bonus_fen,
                   i.penalty_fen, i.carried_in_fen
            FROM platform.payout_items AS i JOIN platform.cleaners AS c ON c.id = i.cleaner_id
            WHERE i.run_id = $1 ORDER BY i.cleaner_id
            """, [runID]
        ).rows.map { try PayoutCalculation.decode($0) }
    }

    /// What `payouts run` would report for a period, read without writing anything.
    public struct DryRun: Sendable {
        /// The period's run, when one was started.
        public var run: (id: Int64, completed: Bool)?
        /// The lines the run recorded: its real figures, as its report shows them.
        public var recorded: [PayoutLine]
        /// The lines starting the run now would add (every line when there is no run).
        public var added: [PayoutLine]

        /// The report's lines, by cleaner.
        public var lines: [PayoutLine] { (recorded + added).sorted { $0.cleanerID < $1.cleanerID } }
        /// True when the run is complete and running it again would change nothing.
        public var alreadyComplete: Bool { run?.completed == true && added.isEmpty }
    }

    /// The period's report without writing anything (one read-only snapshot): a run
    /// already started shows what it recorded — never a recomputation, which would
    /// differ once its orders are settled — plus what starting it again would add.
    public static func dryRun(_ period: PayoutPeriod, on connection: PostgresConnection) throws -> DryRun {
        try connection.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            let run = try connection.query(
                "SELECT id, status = 'completed' FROM platform.payout_runs WHERE period = $1", [period.name]
            ).first.map { try $0.decode((Int64, Bool).self) }
            return DryRun(
                run: run.map { (id: $0.0, completed: $0.1) },
                recorded: try run.map { try lines($0.0, on: connection) } ?? [],
                added: try PayoutCalculation.lines(start: period.start, end: period.end, notIn: run?.0, on: connection))
        }
    }
}

/// The run's completion callback: runs once every settlement job finished.
public struct FinishPayoutRun: JobArguments {
    public static let kind = "payout.finish_run"
    public var runID: Int64
    public var batch: Summary?

    public struct Summary: Codable, Sendable {
        public var completed: Int
        public var discarded: Int
        public var cancelled: Int
        public var total: Int
    }

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(runID, "runID")
        if let batch, min(batch.completed, batch.discarded, batch.cancelled, batch.total) < 0 {
            throw JobArgumentsError("batch counts cannot be negative")
        }
    }

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let runID = self.runID
        let now = services.clock.now
        if let batch, batch.discarded + batch.cancelled > 0 {
            services.log.error(
                "payout run finished with failed cleaners; fix and re-run the period",
                [("run_id", "\(runID)"), ("failed", "\(batch.discarded + batch.cancelled)")])
            return
        }
        try await context.completeInTransaction { connection in
            try PayoutRun.completeIfPaid(runID, at: now, on: connection)
        }
        services.log.info("payout run completed", [("run_id", "\(runID)"), ("cleaners", "\(batch?.total ?? 0)")])
    }
}
