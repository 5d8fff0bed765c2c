public import Foundation

/// A job as a worker holds it: the row's fields plus the lease that fences every
/// acknowledgement of this attempt.
public struct ClaimedJob: Sendable {
    public var id: Int64
    public var lease: JobLease
    public var kind: String
    public var queue: String
    public var argumentsJSON: String
    /// This attempt's number, starting at 1.
    public var attempt: Int
    public var maxAttempts: Int
    public var priority: Int
    public var tags: [String]
    public var createdAt: Date
    public var runAt: Date
    /// Must start by then (see `JobRequest.deadline`).
    public var deadline: Date?
    /// The coordinator transaction that enqueued the job, where the job can become
    /// visible before that transaction commits (a Citus cluster; `EnqueuingTransaction`).
    var enqueuingTransaction: Int64? = nil

    public var isLastAttempt: Bool { attempt >= maxAttempts }
}

/// The fencing token of one claim. The database hands out a new `leaseID` on every
/// claim; complete, fail, snooze and heartbeat only apply while it still matches,
/// so a worker that stalled past its lease cannot touch the newer attempt. It carries
/// a random part (`LeaseSalt`), so it does not repeat across a failover either. Every
/// statement on a lease also names the job's queue, the distribution column on a Citus
/// cluster, so it runs on one shard (docs/scaling.md, "Citus").
public struct JobLease: Sendable, Hashable {
    public var jobID: Int64
    public var leaseID: Int64
    public var queue: String
}
