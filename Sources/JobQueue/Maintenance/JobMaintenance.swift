import PostgresClient

/// The two housekeeping statements every worker runs on a timer. Both lock with
/// SKIP LOCKED, so any number of workers can run them at once without contention
/// or double work.
///
/// Each works one queue at a time: a short read finds the queues that have work (the
/// oldest `batchSize` rows that need it), then one statement per queue changes them.
/// On a Citus cluster, where `queue` is the distribution column, the read fans out to
/// every shard and each change runs on its queue's shard alone (Citus locks rows only
/// in a statement routed to one shard); on one server it is the same work in a few
/// more round trips (docs/scaling.md, "Citus").
enum JobMaintenance {
    /// The queues holding the oldest due scheduled/retryable jobs ($1 rows at most).
    static let queuesWithDueJobs = """
        SELECT DISTINCT due.queue FROM (
            SELECT queue FROM queue.jobs
            WHERE state IN \(JobState.sqlList(JobState.waitingForTime)) AND \(JobReadiness.isDue(runAt: "run_at"))
            ORDER BY run_at
            LIMIT $1
        ) AS due
        """

    /// Moves due scheduled/retryable jobs of queue $2 to `available`. Its workers are
    /// woken by `JobChannel.notify` in the same transaction, as a statement of its own:
    /// on a Citus cluster a statement routed to a shard runs on that shard's node, and a
    /// notification sent there would never reach the workers listening on the coordinator.
    static let stage = """
        WITH due AS (
            SELECT id FROM queue.jobs
            WHERE queue = $2 AND state IN \(JobState.sqlList(JobState.waitingForTime))
              AND \(JobReadiness.isDue(runAt: "run_at"))
            ORDER BY run_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE queue.jobs AS j SET state = \(JobState.available.sql)
        FROM due WHERE j.queue = $2 AND j.id = due.id
        """

    /// The queues holding the running jobs whose lease lapsed longest ago ($1 rows at most).
    static let queuesWithLapsedLeases = """
        SELECT DISTINCT lapsed.queue FROM (
            SELECT queue FROM queue.jobs
            WHERE state = \(JobState.running.sql) AND lease_expires_at < now()
            ORDER BY lease_expires_at
            LIMIT $1
        ) AS lapsed
        """

    /// Running jobs of queue $2 whose lease lapsed (worker killed, host gone, stalled
    /// past its lease): the attempt counts as failed with a recorded reason; the job
    /// retries after a short backoff or is discarded when out of attempts. The new
    /// values are computed in `lapsed`, on the locked rows: Citus refuses clock and JSON
    /// functions on the table's columns in an `UPDATE`'s `SET` list (`JobAckStatements.finish`
    /// says more).
    static let rescue = """
        WITH lapsed AS MATERIALIZED (
            SELECT id,
                CASE WHEN attempt >= max_attempts THEN \(JobState.discarded.sql) ELSE \(JobState.retryable.sql) END AS state,
                CASE WHEN attempt >= max_attempts THEN now() END AS finalized_at,
                now() + least(power(2, attempt - 1), 60) * interval '1 second' AS run_at,
                jsonb_build_array(jsonb_build_object(
                    'attempt', attempt, 'at', now(), 'worker', leased_by,
                    'error', 'lease expired: the worker stopped renewing it (killed, crashed or cut off)')) AS error_entry
            FROM queue.jobs
            WHERE queue = $2 AND state = \(JobState.running.sql) AND lease_expires_at < now()
            ORDER BY lease_expires_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE queue.jobs AS j SET
            state = lapsed.state,
            finalized_at = lapsed.finalized_at,
            run_at = lapsed.run_at,
            errors = j.errors || lapsed.error_entry,
            lease_id = NULL,
            lease_expires_at = NULL
        FROM lapsed
        WHERE j.queue = $2 AND j.id = lapsed.id
        RETURNING j.id, j.state
        """

    static let batchSize: Int64 = 1000

    /// Returns how many jobs became available.
    static func stageDueJobs(on database: PostgresPool) async throws -> Int {
        var staged = 0
        for queue in try await queues(queuesWithDueJobs, on: database) {
            staged += try await database.withTransaction { connection in
                let moved = try connection.execute(stage, [batchSize, queue])
                if moved > 0 { try connection.execute(JobChannel.notify, [queue]) }
                return moved
            }
        }
        return staged
    }

    /// Returns the rescued jobs' ids and new states.
    static func rescueLapsedLeases(on database: PostgresPool) async throws -> [(id: Int64, state: JobState)] {
        var rescued: [(id: Int64, state: JobState)] = []
        for queue in try await queues(queuesWithLapsedLeases, on: database) {
            rescued += try await database.query(rescue, [batchSize, queue]).rows.map { row in
                let (id, state) = try row.decode((Int64, String).self)
                return (id, try JobState(column: state))
            }
        }
        return rescued
    }

    private static func queues(_ statement: String, on database: PostgresPool) async throws -> [String] {
        try await database.query(statement, [batchSize]).rows.map { try $0.decode(0, as: String.self) }
    }
}
