/// The life cycle of a job. Each state is explicit in the `state` column.
public enum JobState: String, Sendable, Codable, CaseIterable {
    /// Waiting for its `run_at` (enqueued for later).
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

    public var isFinal: Bool { self == .completed || self == .cancelled || self == .discarded }
}
