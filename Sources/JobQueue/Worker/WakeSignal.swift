import Dispatch
import Synchronization

/// Wakes a waiting loop (a queue's producer) early: new work was announced, a slot
/// freed up, or shutdown began. A signal sent while nobody waits is kept for the next
/// wait, so it is never lost; several signals collapse into one wake-up.
///
/// A wait is one continuation, resumed by whichever comes first of a signal, its
/// deadline and the waiting task's cancellation: a wake-up resumes the waiter
/// directly, with no tasks to start, cancel and join on every wait (it sits on the
/// notify → claim → start path). Deadlines are kept by Dispatch timers, at most one
/// outstanding in the steady state: a wait whose deadline is not before the armed
/// timer's adds none, and the timer, when it fires, re-arms itself for the earliest
/// deadline still waiting. (A timer per wait, firing long after its signalled wait,
/// cost a thread wake-up per claim round under load.)
final class WakeSignal: Sendable {
    private struct Waiter {
        var continuation: CheckedContinuation<Bool, Never>
        var deadline: DispatchTime
    }

    private struct State {
        var pending = false
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
        /// The earliest deadline an outstanding timer fires at (nil: none outstanding).
        var timerDeadline: DispatchTime?

        /// Whether a timer must be armed at `deadline` for a waiter to be resumed in time.
        mutating func needsTimer(at deadline: DispatchTime) -> Bool {
            if let armed = timerDeadline, armed <= deadline { return false }
            timerDeadline = deadline
            return true
        }
    }
    private let state = Mutex(State())

    func signal() {
        let waiters = state.withLock { state -> [Waiter] in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return []
            }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume(returning: true) }
    }

    /// Returns when signalled (true), when `timeout` passed or the task is cancelled
    /// (false).
    @discardableResult
    func wait(timeout: Duration) async -> Bool {
        let id = state.withLock { state -> UInt64? in
            if state.pending {
                state.pending = false
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let deadline = DispatchTime.now() + timeout.dispatchInterval
                let (resumeNow, armTimer) = state.withLock { state -> (Bool?, Bool) in
                    // Checked under the lock: a signal or a cancellation that came
                    // before this registration is seen here, so the wait cannot hang.
                    if state.pending {
                        state.pending = false
                        return (true, false)
                    }
                    if Task.isCancelled { return (false, false) }
                    state.waiters[id] = Waiter(continuation: continuation, deadline: deadline)
                    return (nil, state.needsTimer(at: deadline))
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
                if armTimer { arm(at: deadline) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume(returning: false)
        }
    }

    private func arm(at deadline: DispatchTime) {
        DispatchQueue.global().asyncAfter(deadline: deadline) { self.timerFired(at: deadline) }
    }

    /// Resumes the waiters whose deadline has come; arms the next timer for the rest.
    private func timerFired(at deadline: DispatchTime) {
        let now = DispatchTime.now()
        let (expired, next) = state.withLock { state -> ([Waiter], DispatchTime?) in
            if state.timerDeadline == deadline { state.timerDeadline = nil }
            let expired = state.waiters.filter { $0.value.deadline <= now }
            for id in expired.keys { state.waiters.removeValue(forKey: id) }
            guard let earliest = state.waiters.values.map(\.deadline).min(), state.needsTimer(at: earliest) else {
                return (Array(expired.values), nil)
            }
            return (Array(expired.values), earliest)
        }
        for waiter in expired { waiter.continuation.resume(returning: false) }
        if let next { arm(at: next) }
    }
}

extension Duration {
    /// The same span for a Dispatch deadline (capped at a million seconds).
    fileprivate var dispatchInterval: DispatchTimeInterval {
        .nanoseconds(Int(max(0, min(seconds, 1_000_000)) * 1_000_000_000))
    }
}
