/// Errors of the queue engine that callers can act on.
public enum JobQueueError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The job cannot be enqueued as given (bad queue name, invalid JSON …).
    case invalidJob(String)
    /// The job's lease is no longer ours: another attempt owns it now.
    case leaseLost(jobID: Int64)

    public var description: String {
        switch self {
        case .invalidJob(let reason): "invalid job: \(reason)"
        case .leaseLost(let id): "job \(id): lease lost (the job was rescued or finished elsewhere)"
        }
    }
}
