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
    /// The handler's completion in its own transaction (`JobContext.completeInTransaction`).
    let completion = CompletionMarker()
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

    /// The handler returned or threw, or the attempt's outcome was handed to the
    /// acknowledger: from here on the outcome write may end the lease at any moment.
    func markFinished() { state.withLock { $0.finished = true } }
    var isFinished: Bool { state.withLock { $0.finished } }

    /// Whether this attempt's own outcome may have ended its lease (written by the
    /// acknowledger, or committed by the handler's completion in its own transaction,
    /// possibly deleting the row): a heartbeat that finds the row no longer leased
    /// then says nothing, and a real loss shows up as the fenced outcome or the
    /// completion's `leaseLost`.
    var mayHaveEndedItsLease: Bool { isFinished || completion.mayHaveCompleted }

    var leaseDeadline: ContinuousClock.Instant {
        get { state.withLock { $0.leaseDeadline } }
        set { state.withLock { $0.leaseDeadline = newValue } }
    }
}
