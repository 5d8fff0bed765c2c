import PostgresClient
import Foundation

/// Claims runnable jobs of one queue for one worker.
enum JobClaimer {
    /// Locks up to $2 runnable jobs with SKIP LOCKED through the partial index on
    /// available rows, and leases them in the same statement: a new lease id per claim
    /// (the fencing token), attempt + 1, and a lease that heartbeats must renew.
    static let claim = """
        WITH picked AS (
            SELECT id FROM queue.jobs
            WHERE state = 'available' AND queue = $1
            ORDER BY priority, run_at, id
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        )
        UPDATE queue.jobs AS j SET
            state = 'running',
            attempt = j.attempt + 1,
            attempted_at = now(),
            lease_id = nextval('queue.lease_seq'),
            leased_by = $3,
            lease_expires_at = now() + $4 * interval '1 millisecond'
        FROM picked
        WHERE j.id = picked.id
        RETURNING j.id, j.lease_id, j.kind, j.queue, j.args::text, j.attempt, j.max_attempts, j.priority,
                  j.tags, j.created_at, j.run_at
        """

    static func claim(
        queue: String, limit: Int, workerID: String, lease: Duration, on database: PostgresPool
    ) async throws -> [ClaimedJob] {
        let leaseMilliseconds = lease.components.seconds * 1000 + lease.components.attoseconds / 1_000_000_000_000_000
        let result = try await database.query(claim, [queue, Int64(limit), workerID, leaseMilliseconds])
        return try result.rows.map { row in
            let (id, leaseID, kind, queue, args, attempt, maxAttempts, priority) = try row.decode(
                (Int64, Int64, String, String, String, Int32, Int32, Int16).self)
            return ClaimedJob(
                id: id, lease: JobLease(jobID: id, leaseID: leaseID), kind: kind, queue: queue, argumentsJSON: args,
                attempt: Int(attempt), maxAttempts: Int(maxAttempts), priority: Int(priority),
                tags: try row.decode(8, as: [String].self), createdAt: try row.decode(9, as: Date.self),
                runAt: try row.decode(10, as: Date.self))
        }.sorted { ($0.priority, $0.runAt, $0.id) < ($1.priority, $1.runAt, $1.id) }
    }
}
