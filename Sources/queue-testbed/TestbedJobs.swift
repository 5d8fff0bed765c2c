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
    /// would show up as a second row instead of being hidden by a constraint.
    static let createEffects = """
        CREATE TABLE IF NOT EXISTS testbed_effects (
            job_id bigint NOT NULL,
            attempt integer NOT NULL,
            worker text NOT NULL,
            at timestamptz NOT NULL DEFAULT now()
        )
        """

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
