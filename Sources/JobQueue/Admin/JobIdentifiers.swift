public import PostgresClient

/// The ids of a queue's jobs, for a check that joins its own rows (effects a handler
/// wrote, say) to the jobs that produced them without reading the job table itself.
public enum JobIdentifiers {
    static let inQueueStatement = """
        SELECT id FROM queue.jobs
        WHERE queue = $1 AND ($2::text[] IS NULL OR state = ANY($2::text[]))
        ORDER BY id
        """

    /// Every job of `queue`, or only those in `states` when given; ascending.
    public static func inQueue(
        _ queue: String, states: Set<JobState>? = nil, on connection: PostgresConnection
    ) throws -> [Int64] {
        try connection.query(inQueueStatement, [queue, states.map { $0.map(\.rawValue).sorted() }]).rows.map {
            try $0.decode(0, as: Int64.self)
        }
    }

    static let heldStatement = """
        SELECT id, attempt::int8 FROM queue.jobs
        WHERE queue = $1 AND state = \(JobState.running.sql) AND leased_by = $2
        ORDER BY id
        """

    /// The attempts `worker` holds on `queue` now: its running jobs and their attempt numbers.
    public static func held(
        by worker: String, queue: String, on connection: PostgresConnection
    ) throws -> [(id: Int64, attempt: Int)] {
        try connection.query(heldStatement, [queue, worker]).rows.map {
            let (id, attempt) = try $0.decode((Int64, Int64).self)
            return (id, Int(attempt))
        }
    }
}
