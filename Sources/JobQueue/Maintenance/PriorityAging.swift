import PostgresClient

/// For queues with `priority_aging_seconds` set: a job that waited that long at
/// its priority moves up one step (and waits again from there), so a steady flow
/// of urgent work cannot starve low-priority jobs forever. One statement per such
/// queue, so on a Citus cluster each runs on its queue's shard (`JobMaintenance`).
enum PriorityAging {
    static let agingQueues = """
        SELECT name, priority_aging_seconds::int8 FROM queue.queues WHERE priority_aging_seconds IS NOT NULL
        """

    /// Ages up to $1 jobs of queue $2 that waited more than $3 seconds.
    static let age = """
        WITH aged AS (
            SELECT id FROM queue.jobs
            WHERE queue = $2 AND state = \(JobState.available.sql) AND priority > 0
              AND run_at < now() - $3 * interval '1 second'
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE queue.jobs AS j SET priority = j.priority - 1, run_at = now()
        FROM aged WHERE j.queue = $2 AND j.id = aged.id
        """

    static func run(on database: PostgresPool) async throws -> Int {
        let queues = try await database.query(agingQueues).rows.map { try $0.decode((String, Int64).self) }
        var aged = 0
        for (queue, seconds) in queues {
            aged += try await database.withConnection { try $0.execute(age, [Int64(1000), queue, seconds]) }
        }
        return aged
    }
}
