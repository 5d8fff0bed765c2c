public import Foundation
public import PostgresClient

/// Reads for the owners of jobs — a batch's owner checking which of its jobs gave
/// up, a summary of what finished, a script waiting for queues to drain — on the
/// caller's connection, so code above the engine never queries `queue.jobs` itself.
extension JobAdministration {
    /// One job of a kind, with its typed arguments and its last error.
    public struct KindJob<Arguments: JobArguments>: Sendable {
        public var id: Int64
        public var state: JobState
        public var attempt: Int
        public var runAt: Date
        public var arguments: Arguments
        /// The last attempt's error; empty when none was recorded.
        public var lastError: String
    }

    /// The jobs of `Arguments.kind`, by id, narrowed by state and batch when given —
    /// e.g. which of a batch's jobs gave up.
    public static func jobs<Arguments: JobArguments>(
        _ kind: Arguments.Type, state: JobState? = nil, batch: String? = nil, on connection: PostgresConnection
    ) throws -> [KindJob<Arguments>] {
        try connection.query(
            """
            SELECT id, state, attempt::int8, run_at, args::text, COALESCE(errors->-1->>'error', '')
            FROM queue.jobs
            WHERE kind = $1 AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR batch_id = $3)
            ORDER BY id
            """, [Arguments.kind, state?.rawValue, batch]
        ).rows.map { row in
            let (id, state, attempt, runAt, arguments, lastError) = try row.decode(
                (Int64, String, Int64, Date, String, String).self)
            return KindJob(
                id: id, state: try JobState(column: state), attempt: Int(attempt), runAt: runAt,
                arguments: try JobJSON.decoder.decode(Arguments.self, from: Data(arguments.utf8)), lastError: lastError)
        }
    }

    /// How many jobs of one kind finished, and how.
    public struct FinishedCount: Sendable, Codable, Equatable {
        public var kind: String
        public var completed: Int
        public var discarded: Int
    }

    /// Jobs finished (completed or discarded) since `start`, per kind.
    public static func finishedCounts(since start: Date, on connection: PostgresConnection) throws -> [FinishedCount] {
        try connection.query(
            """
            SELECT kind, count(*) FILTER (WHERE state = \(JobState.completed.sql))::int8,
                   count(*) FILTER (WHERE state = \(JobState.discarded.sql))::int8
            FROM queue.jobs WHERE finalized_at >= $1 GROUP BY kind ORDER BY kind
            """, [start]
        ).rows.map { row in
            let (kind, completed, discarded) = try row.decode((String, Int64, Int64).self)
            return FinishedCount(kind: kind, completed: Int(completed), discarded: Int(discarded))
        }
    }

    /// A queue's work left, for waiting until it drains.
    public struct QueueProgress: Sendable, Equatable {
        public var queue: String
        /// Runnable, retrying, pending, or scheduled within the horizon asked for.
        public var waiting: Int
        public var running: Int
        /// Completed within the last hour.
        public var completed: Int
    }

    /// Work left per queue (`queues` nil: every queue); jobs scheduled more than
    /// `dueWithin` ahead do not count as waiting.
    public static func progress(
        queues: [String]?, dueWithin: Duration, on connection: PostgresConnection
    ) throws -> [QueueProgress] {
        try connection.query(
            """
            SELECT queue,
                   count(*) FILTER (WHERE state IN \(JobState.sqlList([.available, .retryable, .pending]))
                                    OR (state = \(JobState.scheduled.sql)
                                        AND run_at <= now() + $2 * interval '1 millisecond'))::int8,
                   count(*) FILTER (WHERE state = \(JobState.running.sql))::int8,
                   count(*) FILTER (WHERE state = \(JobState.completed.sql))::int8
            FROM queue.jobs
            WHERE ($1::text[] IS NULL OR queue = ANY($1::text[]))
              AND (state <> \(JobState.completed.sql) OR finalized_at > now() - interval '1 hour')
            GROUP BY queue ORDER BY queue
            """, [queues, dueWithin.milliseconds]
        ).rows.map { row in
            let (queue, waiting, running, completed) = try row.decode((String, Int64, Int64, Int64).self)
            return QueueProgress(queue: queue, waiting: Int(waiting), running: Int(running), completed: Int(completed))
        }
    }
}
