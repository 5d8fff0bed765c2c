public import Foundation
public import PostgresClient

/// How many jobs are in each state, optionally of one queue, one kind, created since
/// a time: what a benchmark or a check needs to verify a run ("every job completed,
/// none retried") without reading the job table itself. On a connection, so callers
/// with a pool, a session or a plain connection can all ask.
public enum JobCounts {
    public struct InState: Sendable, Equatable {
        public var jobs: Int
        /// Of those, jobs that needed more than one attempt.
        public var retried: Int
        /// Of those, jobs with at least one recorded error.
        public var withErrors: Int

        public init(jobs: Int, retried: Int, withErrors: Int = 0) {
            self.jobs = jobs
            self.retried = retried
            self.withErrors = withErrors
        }
    }

    static let byStateStatement = """
        SELECT state, count(*)::int8, count(*) FILTER (WHERE attempt > 1)::int8,
               count(*) FILTER (WHERE jsonb_array_length(errors) > 0)::int8
        FROM queue.jobs
        WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR kind = $2)
          AND ($3::timestamptz IS NULL OR created_at >= $3)
        GROUP BY state
        """

    /// States without jobs are absent.
    public static func byState(
        queue: String? = nil, kind: String? = nil, createdSince: Date? = nil, on connection: PostgresConnection
    ) throws -> [JobState: InState] {
        var counts: [JobState: InState] = [:]
        for row in try connection.query(byStateStatement, [queue, kind, createdSince]).rows {
            let (state, jobs, retried, withErrors) = try row.decode((String, Int64, Int64, Int64).self)
            guard let known = JobState(rawValue: state) else { continue }
            counts[known] = InState(jobs: Int(jobs), retried: Int(retried), withErrors: Int(withErrors))
        }
        return counts
    }
}
