/// Errors of the queue engine that callers can act on.
public enum JobQueueError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The job cannot be enqueued as given (bad queue name, invalid JSON …).
    case invalidJob(String)
    /// The job's lease is no longer ours: another attempt owns it now.
    case leaseLost(jobID: Int64)
    /// The job depends on others or is part of a batch, and the database is a Citus
    /// cluster, which refuses workflows (`JobWorkflows`).
    case workflowsNeedOneServer

    public var description: String {
        switch self {
        case .invalidJob(let reason): "invalid job: \(reason)"
        case .leaseLost(let id): "job \(id): lease lost (the job was rescued or finished elsewhere)"
        case .workflowsNeedOneServer:
            "dependencies and batches are not supported on a Citus cluster (a workflow's jobs can be on different "
                + "shards): enqueue the job without depends_on, batch or batch callback, and enqueue each next step "
                + "from the handler of the step before it (in completeInTransaction, so it is enqueued exactly once)"
        }
    }
}
