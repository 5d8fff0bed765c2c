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
}
