import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `bench batch`: the nightly tier recalculation, a weekly payout run and the
/// statistics rollup and the weekly service-quality scoring at production sizes,
/// through real workers, timed.
struct BatchCommand: Command {
    static let name = "batch"
    static let summary = "time tier recalculation, a payout run, the statistics rollup and quality scoring at production sizes"
    static let options: [CommandOption] = [
        .value("--customers", "N", default: "1000000"), .value("--orders", "N", default: "10000000"),
        .value("--cleaners", "N", default: "10000"), .value("--payout-orders", "N", default: "1000000"),
        .value("--concurrency", "N", default: "8"), .flag("--small"), .flag("--load-only"), .flag("--skip-load"),
        .value("--only", "STEP"),
    ] + DatabaseOptions.options
    static let help = """
        bench batch — times the nightly tier recalculation, a payout run, the statistics rollup,
        quality scoring and a marketing campaign

        Usage: bench batch [--customers N] [--orders N] [--cleaners N] [--payout-orders N]
                           [--concurrency N] [--small] [--load-only | --skip-load] [--only tiers|payout|statistics|quality|campaign]
                           [--database-url URL]

        Generates data server-side (generate_series; not timed), then times, through a
        real JobWorker, the tier recalculation over every customer three times:
          first      every customer's tier is still the default: most change, each
                     change is recorded and notified (a backfill)
          second     the same inputs again: nothing changes (the steady state)
          day later  after a day of orders (orders / 365 more, not timed) with the clock
                     a day on: the nightly run as it happens every night (orders leave
                     the 12-month window, new ones enter it)
        and a payout run for one ISO week (the run settles every cleaner in one
        transaction, then one payment job per cleaner at concurrency N, until the run
        is complete), the statistics rollup twice: first over every day of the
        orders (the loaded orders mark all their days changed: a backfill), then a day
        later (orders / 365 more orders, not timed), recomputing only the changed day,
        and the service-quality scoring of the payout week (every cleaner scored from
        the reviews, upheld complaints, starts and offers of the 28 days before its end,
        each decision recorded, suspensions and messages written), and a marketing
        campaign to every customer (1 % opted out) at 10:00 today in Shanghai: the launch
        (segment evaluated, recipients written in batches of 1 000), the batches through
        a worker (recipients decided, a coupon each, messages queued in the outbox), then
        60 s of dispatching those messages (a rate).
        Each figure comes with the 1-minute load average before and after.
        Before each timed step it runs VACUUM ANALYZE and CHECKPOINT (not timed).
        Use an empty database: it migrates and loads its own data.

        Options:
          --customers N        default 1000000
          --orders N           orders for the tier run, over the last 13 months (default 10000000)
          --cleaners N         default 10000
          --payout-orders N    completed orders in the payout week (default 1000000)
          --concurrency N      payout queue concurrency (default 8)
          --small              100000 / 1000000 / 1000 / 100000, for a quick look
          --load-only          migrate and load, time nothing. Loading the full size takes
                               minutes; copy the loaded database to repeat runs on it:
                               CREATE DATABASE run1 TEMPLATE loaded
          --skip-load          time the runs on data a --load-only left (in the same week)
          --only STEP          time only the tier runs, the payout run, the statistics rollups,
                               the quality scoring or the campaign
        \(DatabaseOptions.help)
        """

    static let steps = ["tiers", "payout", "statistics", "quality", "campaign"]

    var customers: Int
    var orders: Int
    var cleaners: Int
    var payoutOrders: Int
    let concurrency: Int
    let loadOnly: Bool
    let skipLoad: Bool
    let steps: Set<String>
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let small = arguments.flag("--small")
        customers = try arguments.integer("--customers", in: 1...100_000_000) ?? (small ? 100_000 : 1_000_000)
        orders = try arguments.integer("--orders", in: 1...1_000_000_000) ?? (small ? 1_000_000 : 10_000_000)
        cleaners = try arguments.integer("--cleaners", in: 1...10_000_000) ?? (small ? 1_000 : 10_000)
        payoutOrders = try arguments.integer("--payout-orders", in: 0...1_000_000_000) ?? (small ? 100_000 : 1_000_000)
        concurrency = try arguments.integer("--concurrency", in: 1...1_000) ?? 8
        loadOnly = arguments.flag("--load-only")
        skipLoad = arguments.flag("--skip-load")
        let only = try arguments.option("--only")
        guard !(loadOnly && skipLoad) else {
            throw CommandError.usage("--load-only and --skip-load exclude each other", command: arguments.commandName)
        }
        guard only == nil || Self.steps.contains(only!) else {
            throw CommandError.usage(
                "--only takes tiers, payout, statistics, quality or campaign", command: arguments.commandName)
        }
        steps = only.map { [$0] } ?? Set(Self.steps)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        try PostgresMigrator(directory: try MigrationsDirectory.resolve()).migrate(on: connection)
        let zone = TimeZone(identifier: "Asia/Shanghai")!
        let now = Date()
        let period = PayoutPeriod.previous(to: now, timeZone: zone)
        let existing = try connection.query("SELECT count(*)::int8 FROM platform.orders").scalar(Int64.self)
        if skipLoad {
            guard existing > 0 else { throw CommandError.failed("--skip-load: the database has no orders; run --load-only first") }
        } else {
            guard existing == 0 else {
                throw CommandError.failed("the database already has orders; point bench batch at an empty database")
            }
            let load = Date()
            try BenchData.load(
                customers: customers, orders: orders, cleaners: cleaners, payoutOrders: payoutOrders, period: period,
                on: connection)
            print(String(format: "loaded %d customers, %d orders, %d cleaners, %d payout-week orders in %.0fs (not timed)",
                         customers, orders + payoutOrders, cleaners, payoutOrders, Date().timeIntervalSince(load)))
        }
        if loadOnly { return }
        let customerCount = try connection.query("SELECT count(*)::int8 FROM platform.customers").scalar(Int64.self)
        let orderCount = try connection.query("SELECT count(*)::int8 FROM platform.orders").scalar(Int64.self)
        print("timing on \(customerCount) customers and \(orderCount) orders; payout period \(period.name)")

        var results: [Result] = []
        if steps.contains("tiers") {
            let passes: [(String, Date, Int)] = [
                ("first (backfill)", now, 0), ("second (nothing changes)", now, 0),
                ("a day later", now.addingTimeInterval(86_400), orders / 365),
            ]
            for (pass, clock, newOrders) in passes {
                try BenchData.addDay(orders: newOrders, after: now, on: connection)
                try settle(connection)
                let before = try TierCounts(connection)
                let loadBefore = LoadAverage.text(places: 1)
                let seconds = try await TimedWorkerRun.time(
                    database.configuration, services: services(clock: clock), queues: [PlatformJobs.maintenanceQueue: 1]
                ) { pool in
                    let id = try await JobQueueClient(database: pool).enqueue(
                        try JobRequest(RecalculateTiers(), queue: PlatformJobs.maintenanceQueue)).id
                    let administration = JobAdministration(database: pool)
                    return { try await administration.show(id)?.job.state == .completed }
                }
                let after = try TierCounts(connection)
                let added = newOrders > 0 ? String(format: " after %d new orders;", newOrders) : ""
                results.append(Result(
                    name: "tier recalculation, \(pass)", seconds: seconds, load: "\(loadBefore)→\(LoadAverage.text(places: 1))",
                    detail: String(format: "%.0f customers/s;%@ %d tier changes, %d notifications and %d dispatch jobs queued",
                                   Double(customerCount) / seconds, added, after.changes - before.changes,
                                   after.notifications - before.notifications, after.dispatchJobs - before.dispatchJobs)))
            }
        }
        if steps.contains("payout") {
            try settle(connection)
            let loadBefore = LoadAverage.text(places: 1)
            var startSeconds = 0.0
            let payoutSeconds = try await TimedWorkerRun.time(
                database.configuration, services: services(clock: now),
                queues: [PayoutRun.queue: concurrency, JobRequest.defaultQueue: 1]
            ) { pool in
                let began = Date()
                let runID = try await pool.withConnection { try PayoutRun.start(period, on: $0).runID }
                startSeconds = Date().timeIntervalSince(began)
                return { try await pool.withConnection { try PayoutRun.isComplete(runID, on: $0) } }
            }
            let paid = try connection.query(
                """
                SELECT count(*)::int8, COALESCE(sum(orders), 0)::int8,
                       (SELECT count(*) FROM platform.order_settlements AS s JOIN platform.payout_items AS i
                        ON i.id = s.payout_item_id WHERE i.run_id = r.id)::int8
                FROM platform.payout_runs AS r JOIN platform.payout_items AS i ON i.run_id = r.id
                WHERE r.period = $1 AND i.status = 'paid' GROUP BY r.id
                """, [period.name]
            ).first?.decode((Int64, Int64, Int64).self) ?? (Int64(0), Int64(0), Int64(0))
            let unbalanced = try connection.query(
                "SELECT count(*)::int8 FROM (SELECT transaction_id FROM platform.ledger_entries GROUP BY 1 HAVING sum(amount_fen) <> 0) t"
            ).scalar(Int64.self)
            results.append(Result(
                name: "payout run \(period.name)", seconds: payoutSeconds, load: "\(loadBefore)→\(LoadAverage.text(places: 1))",
                detail: String(format: "settled in %.1f s (start), paid by %d jobs in %.1f s; %d cleaners paid, %d orders counted, "
                                   + "%d recorded settled, %.0f orders/s, unbalanced transactions: %d",
                               startSeconds, paid.0, payoutSeconds - startSeconds, paid.0, paid.1, paid.2,
                               Double(paid.1) / payoutSeconds, unbalanced)))
        }
        if steps.contains("statistics") {
            // Every day of the orders, asked for explicitly: a backfill however the data was loaded.
            let everyDay = try connection.query(
                """
                SELECT to_char(d, 'YYYY-MM-DD') FROM generate_series(
                    (SELECT (min(created_at) AT TIME ZONE $1)::date FROM platform.orders)::timestamp,
                    (SELECT (max(created_at) AT TIME ZONE $1)::date FROM platform.orders)::timestamp, interval '1 day') AS d
                """, [zone.identifier]
            ).rows.map { try $0.decode(0, as: String.self) }
            let passes: [(String, Date, Int, [String]?)] = [
                ("first (backfill of every day)", now, 0, everyDay),
                ("a day later (the changed day and today)", now.addingTimeInterval(86_400), orders / 365, nil),
            ]
            for (pass, clock, newOrders, days) in passes {
                try BenchData.addDay(orders: newOrders, after: now, on: connection)
                try settle(connection)
                let loadBefore = LoadAverage.text(places: 1)
                let seconds = try await TimedWorkerRun.time(
                    database.configuration, services: services(clock: clock), queues: [PlatformJobs.maintenanceQueue: 1]
                ) { pool in
                    let id = try await JobQueueClient(database: pool).enqueue(
                        try JobRequest(RollUpStatistics(days: days), queue: PlatformJobs.maintenanceQueue)).id
                    let administration = JobAdministration(database: pool)
                    return { try await administration.show(id)?.job.state == .completed }
                }
                let (days, placed) = try connection.query(
                    "SELECT count(DISTINCT day)::int8, COALESCE(sum(orders_placed), 0)::int8 FROM platform.order_statistics_daily"
                ).first!.decode((Int64, Int64).self)
                let added = newOrders > 0 ? String(format: " after %d new orders;", newOrders) : ""
                results.append(Result(
                    name: "statistics rollup, \(pass)", seconds: seconds, load: "\(loadBefore)→\(LoadAverage.text(places: 1))",
                    detail: String(format: "%@ tables hold %d days, %d orders", added, days, placed)))
            }
        }
        if steps.contains("quality") {
            try settle(connection)
            results.append(try await QualityStep.time(period, now: now, services: services(clock: now), database: database))
        }
        if steps.contains("campaign") {
            try settle(connection)
            // Inside marketing hours, whenever the benchmark runs.
            let morning = BusinessCalendar(timeZone: zone).moment(hour: 10, onDayOf: now)
            results += try await CampaignStep.time(
                now: morning, services: services(clock: morning), database: database, concurrency: 2, dispatchSeconds: 60)
        }
        print("")
        var table = TextTable(["step", "time", "load", "detail"])
        for result in results {
            table.append([result.name, String(format: "%.1f s", result.seconds), result.load, result.detail])
        }
        print(table.render())
        print("goal: each under 60 s on this machine")
    }

    /// Untimed, before each timed step: vacuum (a night passes between two runs,
    /// and autovacuum would have cleaned up the last one's dead rows by then) and a
    /// checkpoint, so the step does not pay for writing out what the load or the
    /// step before it left dirty.
    private func settle(_ connection: PostgresConnection) throws {
        let took = try Settle.run(["VACUUM ANALYZE"], on: connection)
        print(String(format: "vacuum and checkpoint (not timed): %.0fs", took.seconds))
    }

    private func services(clock: Date) -> PlatformServices {
        PlatformServices(
            clock: .fixed(clock), provider: InstantProvider(), payouts: InstantPayouts(), log: JobLog(minimumLevel: .warning))
    }

    struct Result {
        var name: String
        var seconds: Double
        var load: String
        var detail: String
    }

    /// What a tier run wrote: changes, their notifications, their dispatch jobs.
    struct TierCounts {
        var changes: Int64
        var notifications: Int64
        var dispatchJobs: Int64

        init(_ connection: PostgresConnection) throws {
            (changes, notifications) = try connection.query(
                """
                SELECT (SELECT count(*) FROM platform.tier_changes)::int8,
                       (SELECT count(*) FROM platform.notifications WHERE template_code = 'tier_changed')::int8
                """
            ).rows[0].decode((Int64, Int64).self)
            // The set-based runs queue batch dispatch jobs; one-message jobs are counted too.
            dispatchJobs = try [DispatchNotification.kind, DispatchNotificationBatch.kind].reduce(0) { total, kind in
                total + Int64(try JobCounts.byState(kind: kind, on: connection).values.map(\.jobs).reduce(0, +))
            }
        }
    }
}
