import PostgresClient

/// The life cycle of a job. Each state is explicit in the `state` column (whose
/// check constraint lists the same states); statements name them through this type
/// (`sql`, `sqlList`), never as repeated literals.
public enum JobState: String, Sendable, Codable, CaseIterable {
    /// Waiting for the jobs it depends on, or for its batch to finish (a callback).
    case pending
    /// Waiting for its `run_at` (enqueued for later, snoozed, or released).
    case scheduled
    /// May be claimed now.
    case available
    /// Claimed by a worker under a lease.
    case running
    /// Failed; waits for its backoff to pass, then runs again.
    case retryable
    case completed
    case cancelled
    /// Failed for good (out of attempts, unknown kind, undecodable arguments).
    case discarded

    /// The state read from the `state` column (whose check constraint allows no
    /// other value; a mismatch means the schema and this engine disagree).
    init(column text: String) throws {
        guard let state = JobState(rawValue: text) else {
            throw PostgresError(kind: .client, message: "unknown job state \"\(text)\" in queue.jobs")
        }
        self = state
    }

    public var isFinal: Bool { Self.final.contains(self) }

    /// Finished for good: kept for inspection until retention prunes it.
    public static let final: [JobState] = [.completed, .cancelled, .discarded]
    /// Not started yet: may still be cancelled outright, or expire at its deadline.
    public static let waiting: [JobState] = [.pending, .scheduled, .available, .retryable]
    /// Waiting for its run-at to come (see `JobReadiness`).
    static let waitingForTime: [JobState] = [.scheduled, .retryable]
    /// Not finished: holds its unique key (the predicate of `jobs_unique_key_idx`).
    static let unfinished: [JobState] = [.pending, .scheduled, .available, .running, .retryable]

    /// The state as a SQL string literal, for statement texts (a constant of the
    /// engine, never a value from outside: values stay parameters).
    var sql: String { "'\(rawValue)'" }

    /// `('a', 'b')`, for `state IN …` in statement texts.
    static func sqlList(_ states: [JobState]) -> String {
        "(" + states.map(\.sql).joined(separator: ", ") + ")"
    }
}
