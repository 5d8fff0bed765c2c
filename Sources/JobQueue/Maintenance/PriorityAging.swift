import PostgresClient

/// For queues with `priority_aging_seconds` set: a job that waited that long at
/// its priority moves up one step (and waits again from there), so a steady flow
/// of urgent work cannot starve low-priority jobs forever.
enum PriorityAging {
    static let age = """
        WITH aged AS (
            SELECT j.id FROM queue.jobs AS j
            JOIN queue.queues AS q ON q.name = j.queue AND q.priority_aging_seconds IS NOT NULL
            WHERE j.state = \(JobState.available.sql) AND j.priority > 0
              AND j.run_at < now() - q.priority_aging_seconds * interval '1 second'
            LIMIT $1
            FOR UPDATE OF j SKIP LOCKED
        )
        UPDATE queue.jobs AS j SET priority = j.priority - 1, run_at = now()
        FROM aged WHERE j.id = aged.id
        """

    static func run(on database: PostgresPool) async throws -> Int {
        try await database.withConnection { try $0.execute(age, [Int64(1000)]) }
    }
}
