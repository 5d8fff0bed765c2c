import PostgresClient

/// The two housekeeping statements every worker runs on a timer. Both lock with
/// SKIP LOCKED, so any number of workers can run them at once without contention
/// or double work.
enum JobMaintenance {
    /// Moves due scheduled/retryable jobs to `available` and wakes the queues' workers.
    static let stage = """
        WITH due AS (
            SELECT id FROM queue.jobs
            WHERE state IN \(JobState.sqlList(JobState.waitingForTime)) AND \(JobReadiness.isDue(runAt: "run_at"))
            ORDER BY run_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ), moved AS (
            UPDATE queue.jobs AS j SET state = \(JobReadiness.state(runAt: "j.run_at", waiting: "j.state"))
            FROM due WHERE j.id = due.id
            RETURNING j.queue
        )
        SELECT count(*)::int8, \(JobChannel.notifyQueues(of: "moved"))::int8
        FROM moved
        """

    /// Running jobs whose lease lapsed (worker killed, host gone, stalled past its
    /// lease): the attempt counts as failed with a recorded reason; the job retries
    /// after a short backoff or is discarded when out of attempts.
    static let rescue = """
        WITH lapsed AS (
            SELECT id FROM queue.jobs
            WHERE state = \(JobState.running.sql) AND lease_expires_at < now()
            ORDER BY lease_expires_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE queue.jobs AS j SET
            state = CASE WHEN j.attempt >= j.max_attempts THEN \(JobState.discarded.sql) ELSE \(JobState.retryable.sql) END,
            finalized_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
            run_at = now() + least(power(2, j.attempt - 1), 60) * interval '1 second',
            errors = j.errors || jsonb_build_array(jsonb_build_object(
                'attempt', j.attempt, 'at', now(), 'worker', j.leased_by,
                'error', 'lease expired: the worker stopped renewing it (killed, crashed or cut off)')),
            lease_id = NULL,
            lease_expires_at = NULL
        FROM lapsed
        WHERE j.id = lapsed.id
        RETURNING j.id, j.state
        """

    static let batchSize: Int64 = 1000

    /// Returns how many jobs became available.
    static func stageDueJobs(on database: PostgresPool) async throws -> Int {
        let result = try await database.query(stage, [batchSize])
        return Int(try result.first?.decode(0, as: Int64.self) ?? 0)
    }

    /// Returns the rescued jobs' ids and new states.
    static func rescueLapsedLeases(on database: PostgresPool) async throws -> [(id: Int64, state: JobState)] {
        try await database.query(rescue, [batchSize]).rows.map { row in
            let (id, state) = try row.decode((Int64, String).self)
            return (id, try JobState(column: state))
        }
    }
}
