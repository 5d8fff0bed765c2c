import BenchSupport
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// The queue schema in a benchmark database: installed with the project's own
/// migrations, filled, analyzed, counted.
enum BenchSchema {
    /// Applies the migrations from `MIGRATIONS_DIR` or the checkout's `sql/` folder
    /// (found above the executable, e.g. `.build/release/bench` → `sql/`).
    static func install(on configuration: PostgresConfiguration) throws {
        let directory = try MigrationsDirectory.resolve()
        let connection = try PostgresConnection.connect(configuration)
        try PostgresMigrator(directory: directory).migrate(on: connection)
    }

    static func analyze(on configuration: PostgresConfiguration) throws {
        try PostgresConnection.connect(configuration).executeScript("ANALYZE")
    }

    /// VACUUM ANALYZE of the job table: dead rows and index entries of earlier runs
    /// are gone, statistics are fresh.
    static func vacuum(on configuration: PostgresConfiguration) throws {
        try PostgresConnection.connect(configuration).executeScript(JobTable.vacuumAnalyze)
    }

    /// Empties the job table (a new, empty heap and indexes, like a fresh database).
    static func reset(on configuration: PostgresConfiguration) throws {
        try JobTable.empty(on: PostgresConnection.connect(configuration))
    }

    /// Enqueues `count` no-op jobs (`BenchJobs.noop`) through the engine's bulk
    /// enqueue, `fillBatch` per statement; used for backlogs, not timed.
    static func fill(_ count: Int, on configuration: PostgresConfiguration) throws {
        let connection = try PostgresConnection.connect(configuration)
        var left = count
        while left > 0 {
            let batch = min(left, fillBatch)
            _ = try connection.enqueue([JobRequest](repeating: BenchJobs.noop, count: batch))
            left -= batch
        }
    }

    static let fillBatch = 10_000

    /// Adds `count` completed no-op jobs on the default queue, finished evenly over
    /// the `period` up to now: the history a queue holds after running at a steady
    /// rate for one retention period.
    static func fillHistory(_ count: Int, finishedOver period: Duration, on configuration: PostgresConfiguration) throws {
        try JobTable.addCompletedHistory(
            kind: NoopJob.kind, queue: JobRequest.defaultQueue, count: count, finishedOver: period,
            on: PostgresConnection.connect(configuration))
    }

    /// Sets what becomes of the default queue's completed jobs: kept as `completed` rows
    /// (the engine's default) or deleted at completion (`jobsctl queues completed`).
    static func keepCompleted(_ keep: Bool, on configuration: PostgresConfiguration) async throws {
        let pool = PostgresPool(configuration: configuration, maxConnections: 1, name: "bench")
        try await JobAdministration(database: pool).setKeepCompleted(JobRequest.defaultQueue, keep)
        await pool.closeIdle()
    }

    /// Whether the default queue's rows per state show all `jobs` jobs completed: every
    /// one a `completed` row, or — where completed jobs are deleted — no row left (a row
    /// of a no-op run leaves the table only through its fenced completion).
    static func showAllCompleted(_ counts: [JobState: Int], jobs: Int, keepCompleted: Bool) -> Bool {
        counts == (keepCompleted ? [.completed: jobs] : [:])
    }

    /// Fails unless all `jobs` jobs of the default queue completed (`showAllCompleted`).
    static func requireCompleted(
        _ jobs: Int, keepCompleted: Bool = true, on configuration: PostgresConfiguration, what: String
    ) throws {
        let counts = try stateCounts(on: configuration)
        guard showAllCompleted(counts, jobs: jobs, keepCompleted: keepCompleted) else {
            throw BenchFailure(
                "\(what): expected \(keepCompleted ? "\(jobs) completed jobs" : "every job completed and deleted"), "
                    + "found \(counts)")
        }
    }

    /// Jobs of the default queue not completed yet: what a run's completions lower,
    /// whether completed jobs are kept or deleted.
    static func unfinishedJobs(on configuration: PostgresConfiguration) throws -> Int {
        try stateCounts(on: configuration).filter { $0.key != .completed }.values.reduce(0, +)
    }

    /// Jobs per state of the default queue.
    static func stateCounts(on configuration: PostgresConfiguration) throws -> [JobState: Int] {
        try JobCounts.byState(queue: JobRequest.defaultQueue, on: PostgresConnection.connect(configuration))
            .mapValues(\.jobs)
    }

    static func serverVersion(on configuration: PostgresConfiguration) throws -> String {
        try PostgresConnection.connect(configuration).query("SHOW server_version").scalar(String.self)
    }
}
