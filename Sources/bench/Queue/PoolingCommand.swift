import BenchSupport
import CommandLineInterface
import PostgresClient

/// `bench queue pooling`: what running behind PgBouncer in transaction mode costs —
/// processing and enqueue throughput direct vs. pooled, and the statement mode it
/// needs (unnamed) against prepared statements on a direct connection, in one run.
struct PoolingCommand: Command {
    static let name = "pooling"
    static let summary = "throughput direct vs. through PgBouncer (transaction mode), unnamed vs. prepared statements"
    static let options: [CommandOption] = [
        .value("--pgbouncer-url", "URL"), .value("--jobs", "N", default: "20000"),
        .value("--enqueue-jobs", "N", default: "5000"), .value("--repeat", "N", default: "3"),
        .value("--concurrency", "N", default: "16"), .value("--producers", "N", default: "4"), .flag("--quick"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: bench queue pooling --pgbouncer-url URL [OPTIONS]

        In a scratch database it creates on the server (--database-url) and drops, measures
        for each of: direct with prepared statements (the default), direct with unnamed
        statements, and through PgBouncer in pool_mode=transaction (unnamed statements, the
        worker's LISTEN on a direct connection) — interleaved, repetition after repetition:
          - processing rate of no-op jobs by one worker in this process (--concurrency);
          - enqueue rate of single jobs, one per transaction, by --producers producers;
          - this process's CPU per job for both.
        Prints medians (min–max) and each variant's ratio to direct/prepared.
        PgBouncer must forward the scratch database (a `* =` entry in [databases]), as
        scripts/pgbouncer.sh configures it; scripts/bench-pooling.sh starts both.

        Options:
          --pgbouncer-url URL  required: PgBouncer in front of the same server, e.g. port=6432
                               (key=value settings or a postgresql:// URL, no password)
          --jobs N             jobs per processing run (default 20000)
          --enqueue-jobs N     jobs per single-job enqueue run (default 5000)
          --repeat N           repetitions (default 3)
          --concurrency N      the worker's concurrency (default 16)
          --producers N        concurrent single-job producers (default 4)
          --quick              CI-sized run: 3000 jobs, 1000 enqueued, 1 repetition
        \(DatabaseOptions.help)
        """

    let server: PostgresConfiguration
    let pgbouncer: PostgresConfiguration
    var jobs = 20_000
    var enqueueJobs = 5_000
    var repetitions = 3
    var concurrency = 16
    var producers = 4

    init(arguments: inout Arguments) throws {
        server = try DatabaseOptions(arguments: &arguments).configuration
        let url = try DatabaseOptions.url(option: "--pgbouncer-url", arguments: &arguments)
        if arguments.flag("--quick") {
            jobs = 3_000
            enqueueJobs = 1_000
            repetitions = 1
        }
        func positive(_ name: String, _ value: inout Int) throws {
            if let given = try arguments.integer(name, in: 1...100_000_000) { value = given }
        }
        try positive("--jobs", &jobs)
        try positive("--enqueue-jobs", &enqueueJobs)
        try positive("--repeat", &repetitions)
        try positive("--concurrency", &concurrency)
        try positive("--producers", &producers)
        guard let url else {
            throw CommandError.usage(
                "--pgbouncer-url is required: PgBouncer in front of the same server (e.g. port=6432)",
                command: arguments.commandName)
        }
        pgbouncer = PostgresConfiguration(conninfo: url, applicationName: arguments.programName, pooling: .transaction)
    }

    func run() async throws {
        InterruptCleanup.shared.install()
        let results = try await ScratchDatabase.using(on: server) { scratch in
            Output.log("scratch database \(scratch.name)")
            var pooled = pgbouncer
            pooled.conninfo = ScratchDatabase.conninfo(pgbouncer.conninfo, database: scratch.name)
            return try await PoolingBenchmark(
                direct: scratch.configuration, pooled: pooled, jobs: jobs, enqueueJobs: enqueueJobs,
                repetitions: repetitions, concurrency: concurrency, producers: producers
            ).run()
        }
        Output.line(results.report(jobs: jobs, enqueueJobs: enqueueJobs, concurrency: concurrency, producers: producers))
    }
}
