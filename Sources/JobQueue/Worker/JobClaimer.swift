import PostgresClient
import Foundation

/// Claims runnable jobs of one queue for one worker.
enum JobClaimer {
    /// Locks up to `limit` runnable jobs with SKIP LOCKED through the partial index on
    /// available rows, and leases them in the same statement: a new lease id per claim
    /// (the fencing token), attempt + 1, and a lease that heartbeats must renew.
    /// The lease id is the next `queue.lease_seq` value XOR a random 64-bit salt the
    /// claimer draws per claim (`$4`): the sequence keeps claims apart, the salt keeps
    /// them from repeating after an asynchronous promotion, when the new primary's
    /// sequence hands out values the lost WAL had already handed out.
    /// A paused queue yields nothing (checked in the statement, so a pause holds for
    /// every process at once). The jobs of one claim share its lease id (fencing
    /// matches job id and lease id together): drawn once, it is not a volatile call
    /// inside the UPDATE, which Citus refuses. Both the pick and the update name the
    /// queue, so on a Citus cluster the whole claim runs on the queue's shard.
    ///
    /// The claim's transaction commits without waiting for its WAL to reach disk
    /// (`synchronous_commit` off for that transaction only, `set_config(…, true)`; the
    /// pooled connection's next transaction, a completion say, is durable as before).
    /// Nobody is told anything durable by a claim: if the server crashes before the
    /// WAL writer flushed it (≤ 3 × `wal_writer_delay`), the job is simply `available`
    /// again and runs again (at least once, as after a rescue), while the lost attempt's
    /// heartbeat and outcome are fenced by the lease id it no longer holds. Any later
    /// durable commit flushes the claim with it (WAL is written in order). This takes a
    /// disk flush out of every claim, the middle of the enqueue → start path.
    ///
    /// The limit is written into the text, one text per limit: with `LIMIT $n`
    /// PostgreSQL cannot cost a generic plan (it assumes a fraction of the whole
    /// table) and re-plans every call, which costs as much as running the claim.
    /// Limits come from the engine's own batch sizes, never from user input.
    static func claimStatement(limit: Int) -> String {
        limit < claimTexts.count ? claimTexts[limit] : claimStatement(limitExpression: "\(limit)")
    }

    /// For a queue with a concurrency limit across processes: runs after the queue's
    /// claim lock is taken in the same transaction, so its snapshot sees every
    /// committed claim and the running count is exact.
    static func claimWithinLimitStatement(limit: Int) -> String {
        limit < claimWithinLimitTexts.count
            ? claimWithinLimitTexts[limit] : claimStatement(limitExpression: withinLimit(limit))
    }

    /// Opens the text of a claim run on the LISTEN connection, so `pg_stat_activity` and
    /// `pg_stat_statements` tell claims on notification apart from the producers' (the
    /// session itself is named by `JobWorker.listenSessionNameSuffix`).
    static let onNotificationMarker = "/* claim on notification */"

    private static let claimTexts = (0...64).map { claimStatement(limitExpression: "\($0)") }
    private static let claimOnNotificationTexts = claimTexts.map { onNotificationMarker + " " + $0 }
    private static let claimWithinLimitTexts = (0...64).map { claimStatement(limitExpression: withinLimit($0)) }

    private static func withinLimit(_ limit: Int) -> String {
        """
        LEAST(\(limit), GREATEST(0,
            COALESCE((SELECT concurrency_limit FROM queue.queues WHERE name = $1), 2147483647)
            - (SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = \(JobState.running.sql))))
        """
    }

    static let lockQueueClaims = "SELECT pg_advisory_xact_lock(hashtext('queue.claim'), hashtext($1))"

    private static func claimStatement(limitExpression: String) -> String {
        """
        WITH lease AS (
            SELECT nextval('queue.lease_seq') # $4 AS id,
                   set_config('synchronous_commit', 'off', true) AS commit_without_flush
        ), picked AS (
            SELECT id FROM queue.jobs
            WHERE state = \(JobState.available.sql) AND queue = $1
              AND NOT EXISTS (SELECT 1 FROM queue.queues WHERE name = $1 AND paused)
            ORDER BY priority, run_at, id
            LIMIT \(limitExpression)
            FOR UPDATE SKIP LOCKED
        )
        UPDATE queue.jobs AS j SET
            state = \(JobState.running.sql),
            attempt = j.attempt + 1,
            attempted_at = now(),
            lease_id = (SELECT id FROM lease),
            leased_by = $2,
            lease_expires_at = now() + $3 * interval '1 millisecond'
        FROM picked
        WHERE j.queue = $1 AND j.id = picked.id
        RETURNING j.id, j.lease_id, j.kind, j.queue, j.args::text, j.attempt, j.max_attempts, j.priority,
                  j.tags, j.created_at, j.run_at, j.deadline_at, j.enqueuing_xid::text::int8
        """
    }

    static func claim(
        queue: String, limit: Int, workerID: String, lease: Duration, withinQueueLimit: Bool = false,
        on database: PostgresPool
    ) async throws -> [ClaimedJob] {
        let parameters = claimParameters(queue: queue, workerID: workerID, lease: lease)
        let result: PostgresResult
        if withinQueueLimit {
            result = try await database.withTransaction { connection in
                try connection.query(lockQueueClaims, [queue])
                return try connection.query(claimWithinLimitStatement(limit: limit), parameters)
            }
        } else {
            result = try await database.query(claimStatement(limit: limit), parameters)
        }
        return try claimedJobs(result)
    }

    /// The same claim on a connection the caller holds (the worker's LISTEN connection,
    /// claiming as a notification arrives). Not for a queue limited across processes,
    /// whose claim needs the lock-then-claim transaction.
    static func claim(
        queue: String, limit: Int, workerID: String, lease: Duration, on connection: PostgresConnection
    ) throws -> [ClaimedJob] {
        let text = limit < claimOnNotificationTexts.count
            ? claimOnNotificationTexts[limit] : onNotificationMarker + " " + claimStatement(limit: limit)
        return try claimedJobs(connection.query(text, claimParameters(queue: queue, workerID: workerID, lease: lease)))
    }

    private static func claimParameters(queue: String, workerID: String, lease: Duration) -> [any PostgresEncodable] {
        [queue, workerID, lease.milliseconds, LeaseSalt.random()]
    }

    private static func claimedJobs(_ result: PostgresResult) throws -> [ClaimedJob] {
        try result.rows.map { row in
            let (id, leaseID, kind, queue, args, attempt, maxAttempts, priority) = try row.decode(
                (Int64, Int64, String, String, String, Int32, Int32, Int16).self)
            return ClaimedJob(
                id: id, lease: JobLease(jobID: id, leaseID: leaseID, queue: queue), kind: kind, queue: queue, argumentsJSON: args,
                attempt: Int(attempt), maxAttempts: Int(maxAttempts), priority: Int(priority),
                tags: try row.decode(8, as: [String].self), createdAt: try row.decode(9, as: Date.self),
                runAt: try row.decode(10, as: Date.self), deadline: try row.decode(11, as: Date?.self),
                enqueuingTransaction: try row.decode(12, as: Int64?.self))
        }.sorted { ($0.priority, $0.runAt, $0.id) < ($1.priority, $1.runAt, $1.id) }
    }
}
