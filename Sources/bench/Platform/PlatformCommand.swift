import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `bench platform`: coupon expiry, the queue's own no-op rate, notification and
/// order dispatch, and nightly recommendations at production sizes.
struct PlatformCommand: Command {
    static let name = "platform"
    static let summary = "time coupon expiry, the queue's no-op rate, notification and order dispatch, recommendations"
    static let options: [CommandOption] = [
        .value("--coupons", "N", default: "1000000"), .value("--notifications", "N", default: "100000"),
        .value("--dispatch-orders", "N", default: "10000"), .value("--dispatch-cleaners", "N", default: "5000"),
        .value("--recommend-customers", "N", default: "1000000"), .value("--recommend-cleaners", "N", default: "10000"),
        .value("--customers", "N"), .value("--concurrency", "N", default: "16"), .value("--workers", "N", default: "1"),
        .value("--connections", "N"), .value("--queue-batch", "N", default: "1000"), .value("--noop-jobs", "N"), .flag("--one-by-one"), .flag("--small"),
        .value("--migrations", "DIR"),
    ] + DatabaseOptions.options
    static let help = """
        bench platform — the platform's batch paths at production sizes, against one server

        Usage: bench platform [--coupons N] [--notifications N] [--concurrency N] [--small] [OPTIONS]

        1. Migrates the database, loads customers and coupons that have already ended
           with binary COPY, enqueues one coupon.expire job and runs a JobWorker on the
           maintenance queue until the job completes: coupons expired per second.
           Checks every loaded coupon is expired.
        2. The queue's own rate: no-op jobs on the notifications queue, processed by
           the same JobWorkers (count, concurrency, connections) as step 3: jobs per
           second. Checks every one completed.
        3. Queues notifications (template order_status, one phone number per
           customer so flow control lets them all through) with the batch
           NotificationOutbox.queue (or, with --one-by-one, a call per message), one
           transaction per batch: notifications queued per second. Then runs
           JobWorkers with the platform's handlers and a gateway that answers at once on
           the notifications queue, until every notification is sent: notifications
           dispatched per second. Checks every one is sent and that the gateway got each
           exactly once. Prints dispatch against the no-op rate of step 2 and queueing
           against the goal of 10 000/s.
        4. Order dispatch in one city: loads cleaners (COPY; hours, certifications and
           areas set-based), books orders through platform.book_order with no worker
           running, then runs JobWorkers with the platform's handlers on the dispatch
           and notification queues while simulated cleaners answer every offer through
           platform.accept_offer / decline_offer (a tenth decline, deterministically):
           orders matched per second. Then, with the workers idle, books orders one at a
           time: p50/p99 from booking to first offer, beside a no-op job's enqueue →
           start on the same workers. Checks every order is assigned once, that no
           accepted orders of one cleaner overlap and no cleaner holds two live offers
           for one order.
        5. Nightly cleaner recommendations: loads cleaners over 20 cities and one or
           two completed orders per customer (a tenth reviewed), enqueues one
           cleaner.recommend job and runs a JobWorker on the maintenance queue until it
           completes: customers per second. Checks lists of at most 5, every
           recommended cleaner's area covering the address, none rated ≤ 2 by the
           customer, and the same lists as a ranking without the grid prefilter for
           200 sampled customers.

        The run's rows are new (their own coupon template, phone numbers and dedupe
        keys), so it can be repeated on the same database; use a private one, since
        coupon.expire expires every due coupon it finds. Workers run without leader
        services (no periodic jobs, retention or priority aging) and log warnings only.

        Options:
        \(PlatformOptions.help)

        Example:
          DEVDB_DIR=.devdb-pbench scripts/devdb.sh start
          .build/release/bench platform --small --database-url postgresql://postgres@127.0.0.1:54320/cleaning
        """

    let options: PlatformOptions

    init(arguments: inout Arguments) throws {
        options = try PlatformOptions(arguments: &arguments)
    }

    func run() async throws {
        let pool = PostgresPool(configuration: options.database.configuration, maxConnections: 2, name: "bench")
        let migrator = try PostgresMigrator(directory: options.migrationsDirectory)
        let applied = try await pool.withConnection { try migrator.migrate(on: $0) }
        Output.log("migrated \(options.migrationsDirectory.path): \(applied.count) applied now")
        let machine = try await MachineNote.read(pool: pool)
        Output.log(machine.description)

        let serverPID = await CPUSample.serverPID(pool: pool)
        let (dataset, loading) = try await Dataset.load(
            customers: options.customers, coupons: options.coupons, pool: pool, serverPID: serverPID)
        let expiry = options.coupons > 0
            ? try await CouponExpiryPhase(options: options, pool: pool, dataset: dataset, serverPID: serverPID).run()
            : nil
        if expiry != nil {
            // The expiry left a million dead row versions; clean them now rather than
            // let autovacuum do it while the notifications are timed.
            _ = try await pool.withConnection { try Settle.run(["VACUUM (ANALYZE) platform.coupons"], on: $0) }
        }
        let noop = options.noopJobs > 0
            ? try await QueueNoopPhase(options: options, pool: pool, serverPID: serverPID).run()
            : nil
        let dispatch = options.notifications > 0
            ? try await NotificationPhase(options: options, pool: pool, dataset: dataset, serverPID: serverPID).run()
            : nil
        let orders = options.runsDispatch
            ? try await DispatchPhase(options: options, pool: pool, dataset: dataset, serverPID: serverPID).run()
            : nil
        let recommendations = options.recommendCustomers > 0
            ? try await RecommendationPhase(options: options, pool: pool, dataset: dataset, serverPID: serverPID).run()
            : nil
        await pool.closeIdle()

        let report = PlatformReport(
            options: options, machine: machine, loadAfter: LoadAverage.text(), dataset: dataset,
            loading: loading, expiry: expiry, noop: noop, dispatch: dispatch, orders: orders,
            recommendations: recommendations)
        print(report.render())
        if !report.verified { throw CommandError.failed("verification failed (see above)") }
    }
}

/// Where the figures came from.
struct MachineNote: Sendable, CustomStringConvertible {
    var cores: Int
    var server: String
    var host: String
    var loadBefore: String

    static func read(pool: PostgresPool) async throws -> MachineNote {
        let (version, address) = try await pool.query(
            "SELECT current_setting('server_version'), COALESCE(host(inet_server_addr()), 'unix socket')"
        ).rows[0].decode((String, String).self)
        return MachineNote(
            cores: ProcessInfo.processInfo.activeProcessorCount, server: "PostgreSQL \(version)", host: address,
            loadBefore: LoadAverage.text())
    }

    var description: String {
        "\(cores) cores, \(server) at \(host), load average \(loadBefore) at start"
    }
}
