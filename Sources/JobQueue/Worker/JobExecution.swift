import Synchronization

/// One running attempt as the runtime tracks it: its lease (renewed by heartbeats)
/// and the handle that stops its handler for a timeout, lease loss or shutdown.
final class JobExecution: Sendable {
    enum StopReason: Sendable, Equatable {
        case timedOut(Duration)
        case leaseLost
        case shutdown
        /// An operator asked to cancel the running job (`jobsctl jobs cancel`).
        case cancelRequested
    }

    private struct State {
        var finished = false
        var reason: StopReason?
        var task: Task<Void, any Error>?
        var leaseDeadline: ContinuousClock.Instant
    }

    let job: ClaimedJob
    let claimedAt = ContinuousClock.now
    private let state: Mutex<State>

    init(job: ClaimedJob, leaseDeadline: ContinuousClock.Instant) {
        self.job = job
        self.state = Mutex(State(leaseDeadline: leaseDeadline))
    }

    func attach(_ task: Task<Void, any Error>) {
        let reason = state.withLock { state in
            state.task = task
            return state.reason
        }
        if reason != nil { task.cancel() }
    }

    /// Cancels the handler; the first reason given is the one reported.
    func stop(_ reason: StopReason) {
        let task = state.withLock { state in
            if state.reason == nil { state.reason = reason }
            return state.task
        }
        task?.cancel()
    }

    var stopReason: StopReason? { state.withLock { $0.reason } }

    /// The handler returned or threw; its lease no longer matters to the keeper
    /// (a completion committed inside the handler ends the lease legitimately).
    func markFinished() { state.withLock { $0.finished = true } }
    var isFinished: Bool { state.withLock { $0.finished } }

    var leaseDeadline: ContinuousClock.Instant {
        get { state.withLock { $0.leaseDeadline } }
        set { state.withLock { $0.leaseDeadline = newValue } }
    }
}

/// The attempts running in this process, by job id.
final class RunningJobs: Sendable {
    private let executions = Mutex<[Int64: JobExecution]>([:])

    func add(_ execution: JobExecution) { executions.withLock { $0[execution.job.id] = execution } }
    func remove(_ execution: JobExecution) { executions.withLock { _ = $0.removeValue(forKey: execution.job.id) } }
    var all: [JobExecution] { executions.withLock { Array($0.values) } }
    var count: Int { executions.withLock { $0.count } }
}
