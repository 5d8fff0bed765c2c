import Synchronization

/// One attempt this process holds under a lease, from its claim until its outcome:
/// waiting in the claim-ahead buffer or running. Its lease deadline is renewed by
/// heartbeats; `stop` cancels its handler for a timeout, lease loss, a cancel request
/// or shutdown.
final class LeasedAttempt: Sendable {
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
