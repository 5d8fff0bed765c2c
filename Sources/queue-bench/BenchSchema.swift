import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// The queue schema in a benchmark database: installed with the project's own
/// migrations, filled, analyzed, counted.
enum BenchSchema {
    /// Applies the migrations from `MIGRATIONS_DIR` or the checkout's `sql/` folder
    /// (found above the executable, e.g. `.build/release/queue-bench` → `sql/`).
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
        try PostgresConnection.connect(configuration).executeScript("VACUUM ANALYZE queue.jobs")
    }

    /// Empties the job table (a new, empty heap and indexes, like a fresh database).
    static func reset(on configuration: PostgresConfiguration) throws {
        try PostgresConnection.connect(configuration).executeScript("TRUNCATE queue.jobs")
    }

    /// Inserts `count` available no-op jobs on the default queue in one statement,
    /// the same rows `BenchJobs.noop` enqueues (every other column at its default);
    /// used for backlogs too large to build quickly through the enqueue API.
    static func fill(_ count: Int, on configuration: PostgresConfiguration) throws {
        try PostgresConnection.connect(configuration).execute(
            """
            INSERT INTO queue.jobs (kind, queue, args)
            SELECT $1, $2, '{}'::jsonb FROM generate_series(1, $3)
            """, [NoopJob.kind, JobRequest.defaultQueue, Int64(count)])
    }

    /// Inserts `count` completed no-op jobs on the default queue, finished evenly over
    /// the `period` up to now, oldest first (lowest ids): the history a queue holds
    /// after running at a steady rate for one retention period.
    static func fillHistory(_ count: Int, finishedOver period: Duration, on configuration: PostgresConfiguration) throws {
        try PostgresConnection.connect(configuration).execute(
            """
            INSERT INTO queue.jobs (kind, queue, args, state, attempt, created_at, run_at, attempted_at, finalized_at)
            SELECT $1, $2, '{}'::jsonb, 'completed', 1, t, t, t, t
            FROM (SELECT now() - ($3::float8 - g * $3::float8 / $4::int8) * interval '1 millisecond' AS t
                  FROM generate_series(1, $4::int8) AS g) AS finished
            """, [NoopJob.kind, JobRequest.defaultQueue, period.milliseconds, Int64(count)])
    }

    /// Rows per state of the default queue.
    static func stateCounts(on configuration: PostgresConfiguration) throws -> [String: Int] {
        let rows = try PostgresConnection.connect(configuration).query(
            "SELECT state, count(*) FROM queue.jobs WHERE queue = $1 GROUP BY state", [JobRequest.defaultQueue]
        ).rows
        var counts: [String: Int] = [:]
        for row in rows {
            let (state, count) = try row.decode((String, Int64).self)
            counts[state] = Int(count)
        }
        return counts
    }

    static func serverVersion(on configuration: PostgresConfiguration) throws -> String {
        try PostgresConnection.connect(configuration).query("SHOW server_version").scalar(String.self)
    }
}
