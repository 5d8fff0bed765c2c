import Foundation

/// Thrown by a handler to end the job without retrying: "cancel from inside".
public struct JobCancelled: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "cancelled: \(reason)" }
}

/// Thrown by a handler to fail for good, whatever attempts are left (bad input
/// that no retry can fix).
public struct JobDiscarded: PermanentJobFailure, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Thrown by a handler to run again later without using up an attempt (waiting
/// for a resource, a rate limit …).
public struct JobSnoozed: Error, Sendable, CustomStringConvertible {
    public var delay: Duration
    public init(for delay: Duration) { self.delay = delay }
    public var description: String { "snoozed for \(delay)" }
}

/// How one attempt ended, as written back to the job row.
struct JobOutcome: Sendable {
    enum Result: Sendable, Equatable {
        case completed
        /// Failed; runs again at the given time.
        case retry(at: Date, error: String)
        case discarded(error: String)
        case cancelled(reason: String)
        /// Runs again at the given time; the attempt is given back.
        case snoozed(until: Date)
        /// Shutdown: back to the queue at once, attempt given back.
        case released

        /// The outcome's label in the worker's metrics (`queue_worker_jobs_total`).
        var metricLabel: String {
            switch self {
            case .completed: "completed"
            case .retry: "retried"
            case .discarded: "discarded"
            case .cancelled: "cancelled"
            case .snoozed: "snoozed"
            case .released: "released"
            }
        }
    }

    var lease: JobLease
    /// The attempt this outcome ends (the claim's number), recorded with its error.
    var attempt: Int
    var result: Result

    /// The target state, error text and next run time, in the columns' terms.
    var columns: (state: JobState, error: String?, runAtMicroseconds: Int64?) {
        switch result {
        case .completed: (.completed, nil, nil)
        case .retry(let date, let error): (.retryable, error, JobTime.microseconds(date))
        case .discarded(let error): (.discarded, error, nil)
        case .cancelled(let reason): (.cancelled, "cancelled: \(reason)", nil)
        case .snoozed(let date): (.scheduled, nil, JobTime.microseconds(date))
        case .released: (.scheduled, nil, JobTime.microseconds(Date()))
        }
    }
}
