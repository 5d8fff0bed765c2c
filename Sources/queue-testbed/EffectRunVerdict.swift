import JobQueue
import PostgresClient

/// The end state of a fault-injection run of `testbed.effect` jobs, read from the
/// database (job rows, effect rows) and from the stalled workers' metrics, and
/// judged: every job completed with its effect exactly once, none left running,
/// and every stale attempt of a stalled worker fenced out.
struct EffectRunVerdict: Sendable {
    /// One attempt a stalled worker held when it was stopped.
    struct HeldAttempt: Sendable, Hashable {
        var worker: String
        var jobID: Int64
        var attempt: Int32
    }

    var enqueued: Int
    var jobRows = 0
    var completed = 0
    var running = 0
    var retried = 0
    var withErrors = 0
    var gaveUp = 0
    var effectRows = 0
    var jobsWithEffect = 0
    var effectsOfUnfinishedJobs = 0
    /// Present when the run stalled workers: their held attempts and fenced outcomes.
    var stall: (held: Int, stale: Int, fenced: Int)?

    var lost: Int { enqueued - jobsWithEffect }
    var duplicated: Int { effectRows - jobsWithEffect }

    /// Effect rows of the queue's jobs (`$1`), and how many belong to jobs that did
    /// not complete (`$2`); the job ids come from the engine, joined as arrays.
    static let effectFigures = """
        SELECT count(*)::int8, count(DISTINCT e.job_id)::int8,
               count(DISTINCT e.job_id) FILTER (WHERE u.id IS NOT NULL)::int8
        FROM testbed_effects AS e
        JOIN unnest($1::int8[]) AS q(id) ON q.id = e.job_id
        LEFT JOIN unnest($2::int8[]) AS u(id) ON u.id = e.job_id
        """
    /// Of the given attempts, how many wrote no effect row of their own (were stale).
    static let staleAttempts = """
        SELECT count(*)::int8 FROM unnest($1::text[], $2::int8[], $3::int4[]) AS a(worker, job_id, attempt)
        WHERE NOT EXISTS (SELECT 1 FROM testbed_effects AS e
                          WHERE e.job_id = a.job_id AND e.attempt = a.attempt AND e.worker = a.worker)
        """

    /// Reads the figures of `queue`; `held` and `fenced` only for a run that stalled workers.
    static func measure(
        queue: String, enqueued: Int, held: [HeldAttempt]?, fenced: Int, on connection: PostgresConnection
    ) throws -> EffectRunVerdict {
        var verdict = EffectRunVerdict(enqueued: enqueued)
        let counts = try JobCounts.byState(queue: queue, on: connection)
        verdict.jobRows = counts.values.map(\.jobs).reduce(0, +)
        verdict.completed = counts[.completed]?.jobs ?? 0
        verdict.running = counts[.running]?.jobs ?? 0
        verdict.retried = counts.values.map(\.retried).reduce(0, +)
        verdict.withErrors = counts.values.map(\.withErrors).reduce(0, +)
        verdict.gaveUp = (counts[.discarded]?.jobs ?? 0) + (counts[.cancelled]?.jobs ?? 0)
        let jobs = try JobIdentifiers.inQueue(queue, on: connection)
        let unfinished = try JobIdentifiers.inQueue(
            queue, states: Set(JobState.allCases).subtracting([.completed]), on: connection)
        if let row = try connection.query(effectFigures, [jobs, unfinished]).first {
            let figures = try row.decode((Int64, Int64, Int64).self)
            (verdict.effectRows, verdict.jobsWithEffect) = (Int(figures.0), Int(figures.1))
            verdict.effectsOfUnfinishedJobs = Int(figures.2)
        }
        if let held {
            let stale = try connection.query(
                staleAttempts, [held.map(\.worker), held.map(\.jobID), held.map(\.attempt)]
            ).first?.decode(0, as: Int64.self) ?? 0
            verdict.stall = (held.count, Int(stale), fenced)
        }
        return verdict
    }

    /// What is wrong, one line each; empty when the run passed.
    var failures: [String] {
        var failures: [String] = []
        if jobRows != enqueued { failures.append("\(jobRows) job rows for \(enqueued) enqueued") }
        if completed != enqueued { failures.append("\(completed) of \(enqueued) jobs completed") }
        if lost != 0 { failures.append("\(lost) jobs have no effect row (lost)") }
        if duplicated != 0 { failures.append("\(duplicated) effect rows beyond one per job (duplicated)") }
        if running != 0 { failures.append("\(running) jobs are still running (stuck)") }
        if gaveUp != 0 { failures.append("\(gaveUp) jobs were discarded or cancelled") }
        if effectsOfUnfinishedJobs != 0 {
            failures.append("\(effectsOfUnfinishedJobs) effects belong to jobs that are not completed")
        }
        if let stall {
            if stall.stale == 0 {
                failures.append(
                    "no stalled attempt was rescued (\(stall.held) held, all completed by the stalled worker): "
                        + "fencing was not exercised (raise --stall-sleep-ms or --stalls)")
            }
            if stall.fenced < stall.stale {
                failures.append(
                    "\(stall.stale) stale attempts but the stalled workers count \(stall.fenced) fenced outcomes "
                        + "(queue_worker_fenced_outcomes_total)")
            }
        }
        return failures
    }

    /// The figures as `name=value` words, for the run's verdict line.
    var figures: String {
        var words = [
            "completed=\(completed)", "lost=\(lost)", "duplicated=\(duplicated)", "stuck_running=\(running)",
            "retried=\(retried)", "with_errors=\(withErrors)",
        ]
        if let stall { words += ["held=\(stall.held)", "stale=\(stall.stale)", "fenced=\(stall.fenced)"] }
        return words.joined(separator: " ")
    }
}
