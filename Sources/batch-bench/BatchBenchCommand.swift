import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `batch-bench`: the nightly tier recalculation and a weekly payout run at
/// production sizes, through real workers, timed.
struct BatchBenchCommand: Command {
    static let name = "batch-bench"
    static let summary = "time tier recalculation and a payout run at production sizes"
    static let help = """
        batch-bench — times the nightly tier recalculation and a payout run

        Usage: batch-bench [--customers N] [--orders N] [--cleaners N] [--payout-orders N]
                           [--concurrency N] [--small] [--database-url URL]

        Generates data server-side (generate_series; not timed), then times, through a
        real JobWorker: the tier recalculation over every customer (first run: many
        changes, each recorded and notified; second run: none), and a payout run for one
        ISO week (one settlement job per cleaner, concurrency N, until the run is complete).
        Use an empty database: it migrates and loads its own data.

        Options:
          --customers N        default 1000000
          --orders N           orders for the tier run, over the last 13 months (default 10000000)
          --cleaners N         default 10000
          --payout-orders N    completed orders in the payout week (default 1000000)
          --concurrency N      payout queue concurrency (default 8)
          --small              100000 / 1000000 / 1000 / 100000, for a quick look
        \(DatabaseOptions.help)
        """

    var customers: Int
    var orders: Int
    var cleaners: Int
    var payoutOrders: Int
    let concurrency: Int
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let small = arguments.flag("--small")
        customers = try arguments.option("--customers", as: Int.self) ?? (small ? 100_000 : 1_000_000)
        orders = try arguments.option("--orders", as: Int.self) ?? (small ? 1_000_000 : 10_000_000)
        cleaners = try arguments.option("--cleaners", as: Int.self) ?? (small ? 1_000 : 10_000)
        payoutOrders = try arguments.option("--payout-orders", as: Int.self) ?? (small ? 100_000 : 1_000_000)
        concurrency = try arguments.option("--concurrency", as: Int.self) ?? 8
        guard customers > 0, orders >= 0, cleaners > 0, payoutOrders >= 0, concurrency > 0 else {
            throw CommandError.usage("sizes must be positive", command: arguments.commandName)
        }
        database = try DatabaseOptions(arguments: &arguments, applicationName: "batch-bench")
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        try PostgresMigrator(directory: try MigrationsDirectory.resolve(explicit: nil)).migrate(on: connection)
        let existing = try connection.query("SELECT count(*)::int8 FROM platform.orders").scalar(Int64.self)
        guard existing == 0 else {
            throw CommandError.failed("the database already has orders; point batch-bench at an empty database")
        }
        let zone = TimeZone(identifier: "Asia/Shanghai")!
        let period = PayoutPeriod.previous(to: Date(), timeZone: zone)
        let load = Date()
        try BenchData.load(
            customers: customers, orders: orders, cleaners: cleaners, payoutOrders: payoutOrders, period: period,
            on: connection)
        print(String(format: "loaded %d customers, %d orders, %d cleaners, %d payout-week orders in %.0fs (not timed)",
                     customers, orders + payoutOrders, cleaners, payoutOrders, Date().timeIntervalSince(load)))

        let services = PlatformServices(provider: InstantProvider(), payouts: InstantPayouts(), log: JobLog(minimumLevel: .warning))
        var results: [(String, Double, String)] = []
        for pass in ["first (changes applied and notified)", "second (nothing changes)"] {
            let seconds = try await BenchWorker.time(
                database.configuration, services: services, queues: [PlatformJobs.maintenanceQueue: 1]
            ) { pool in
                let id = try await JobQueueClient(database: pool).enqueue(
                    try JobRequest(RecalculateTiers(), queue: PlatformJobs.maintenanceQueue)).id
                return { try await pool.query("SELECT state = 'completed' FROM queue.jobs WHERE id = $1", [id]).scalar(Bool.self) }
            }
            let changes = try connection.query("SELECT count(*)::int8 FROM platform.tier_changes").scalar(Int64.self)
            results.append(("tier recalculation, \(pass)", seconds,
                            String(format: "%.0f customers/s; %d tier changes in total", Double(customers) / seconds, changes)))
        }
        let payoutSeconds = try await BenchWorker.time(
            database.configuration, services: services, queues: [PayoutRun.queue: concurrency, JobRequest.defaultQueue: 1]
        ) { pool in
            let runID = try await pool.withConnection { try PayoutRun.start(period, on: $0).runID }
            return { try await pool.withConnection { try PayoutRun.isComplete(runID, on: $0) } }
        }
        let paid = try connection.query(
            """
            SELECT count(*)::int8, COALESCE(sum(orders), 0)::int8 FROM platform.payout_items
            WHERE run_id = (SELECT id FROM platform.payout_runs WHERE period = $1) AND status = 'paid'
            """, [period.name]
        ).first!.decode((Int64, Int64).self)
        let unbalanced = try connection.query(
            "SELECT count(*)::int8 FROM (SELECT transaction_id FROM platform.ledger_entries GROUP BY 1 HAVING sum(amount_fen) <> 0) t"
        ).scalar(Int64.self)
        results.append(("payout run \(period.name)", payoutSeconds,
                        String(format: "%d cleaners paid, %d orders settled, %.0f orders/s, unbalanced transactions: %d",
                               paid.0, paid.1, Double(paid.1) / payoutSeconds, unbalanced)))
        print("")
        for (name, seconds, detail) in results {
            print(String(format: "%-48@ %7.1f s   %@", name as NSString, seconds, detail))
        }
        print("goal: each under 60 s on this machine")
    }
}
