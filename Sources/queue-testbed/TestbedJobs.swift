import Foundation
import JobQueue
import PostgresClient

/// Does nothing: measures the engine's own overhead.
struct NoopJob: JobArguments {
    static let kind = "testbed.noop"
}

/// Records one row in `testbed_effects` in the same transaction that completes the
/// job, so each job's effect exists exactly once however often it is attempted.
/// `sleepMs` makes it slow enough to be caught mid-run by a kill.
struct EffectJob: JobArguments {
    static let kind = "testbed.effect"
    var sleepMs: Int?
}

/// Sleeps (cooperatively: a cancelled sleep ends the attempt).
struct SleepJob: JobArguments {
    static let kind = "testbed.sleep"
    var ms: Int
}

/// Fails its first `times` attempts, then succeeds.
struct FailJob: JobArguments {
    static let kind = "testbed.fail"
    var times: Int
}

/// Records when it ran: a row with the database's clock at the handler's start, then
/// holds for `holdMs` and sets the row's end in the transaction that completes the
/// job. The interval therefore lies inside the time the job's row was `running`, so
/// overlapping intervals show how many jobs of a queue ran at once across processes
/// (one clock for every process: the server's).
struct IntervalJob: JobArguments {
    static let kind = "testbed.interval"
    var holdMs: Int
}

/// Takes a permit under a shared rate limit, then records its effect.
struct LimitedJob: JobArguments {
    static let kind = "testbed.limited"
    var key: String
    var limit: Int
    var windowMs: Int
}

struct TestbedError: Error, CustomStringConvertible {
    var description: String
}

enum TestbedJobs {
    /// The effect table has no unique constraint on purpose: a duplicate effect
    /// would show up as a second row instead of being hidden by a constraint. An
    /// interval whose attempt never completed keeps a NULL end.
    static let tables = """
        CREATE TABLE IF NOT EXISTS testbed_effects (
            job_id bigint NOT NULL,
            attempt integer NOT NULL,
            worker text NOT NULL,
            at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS testbed_intervals (
            job_id bigint NOT NULL,
            attempt integer NOT NULL,
            worker text NOT NULL,
            started_at timestamptz NOT NULL,
            ended_at timestamptz
        );
        """

    /// Creates the tables unless they exist. Workers started together on a fresh
    /// database would otherwise race: concurrent `CREATE TABLE IF NOT EXISTS` of one
    /// name can fail on the catalog's unique index, so creators take turns.
    static func createTables(on connection: PostgresConnection) throws {
        try connection.withTransaction { connection in
            _ = try connection.query("SELECT pg_advisory_xact_lock(hashtext('queue-testbed.tables'))")
            try connection.executeScript(tables)
        }
    }

    static func handlers() -> JobHandlerRegistry {
        var registry = JobHandlerRegistry()
        registry.register(NoopJob.self) { _, _ in }
        registry.register(EffectJob.self) { arguments, context in
            if let ms = arguments.sleepMs, ms > 0 { try await Task.sleep(for: .milliseconds(ms)) }
            let job = context.job
            let worker = context.workerID
            _ = try await context.completeInTransaction { connection in
                try connection.execute(
                    "INSERT INTO testbed_effects (job_id, attempt, worker) VALUES ($1, $2, $3)",
                    [job.id, Int32(job.attempt), worker])
            }
        }
        registry.register(LimitedJob.self) { arguments, context in
            try await context.acquire(RateLimit(key: arguments.key, limit: arguments.limit, per: .milliseconds(arguments.windowMs)))
            let job = context.job
            let worker = context.workerID
            _ = try await context.completeInTransaction { connection in
                try connection.execute(
                    "INSERT INTO testbed_effects (job_id, attempt, worker) VALUES ($1, $2, $3)",
                    [job.id, Int32(job.attempt), worker])
            }
        }
        registry.register(IntervalJob.self) { arguments, context in
            // The handler's own start, not the insert's: a process stopped between the
            // two would otherwise record a start from after it resumed.
            let entered = Date()
            let job = context.job
            let worker = context.workerID
            _ = try await context.database.query(
                "INSERT INTO testbed_intervals (job_id, attempt, worker, started_at) VALUES ($1, $2, $3, $4)",
                [job.id, Int32(job.attempt), worker, entered])
            try await Task.sleep(for: .milliseconds(arguments.holdMs))
            _ = try await context.completeInTransaction { connection in
                try connection.execute(
                    "UPDATE testbed_intervals SET ended_at = clock_timestamp() WHERE job_id = $1 AND attempt = $2",
                    [job.id, Int32(job.attempt)])
            }
        }
        registry.register(SleepJob.self) { arguments, _ in
            try await Task.sleep(for: .milliseconds(arguments.ms))
        }
        registry.register(FailJob.self, options: JobKindOptions(retryPolicy: RetryPolicy(baseDelay: .milliseconds(50)))) {
            arguments, context in
            if context.job.attempt <= arguments.times {
                throw TestbedError(description: "planned failure \(context.job.attempt) of \(arguments.times)")
            }
        }
        return registry
    }
}
