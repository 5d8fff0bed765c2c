import Dispatch
import Synchronization

/// Wakes a waiting loop (a queue's producer) early: new work was announced, a slot
/// freed up, or shutdown began. A signal sent while nobody waits is kept for the next
/// wait, so it is never lost; several signals collapse into one wake-up.
///
/// A wait is one continuation, resumed by whichever comes first of a signal, its
/// timer (a Dispatch deadline, no task of its own) and the waiting task's
/// cancellation: a wake-up resumes the waiter directly, with no tasks to start,
/// cancel and join on every wait (it sits on the notify → claim → start path).
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())

    func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return []
            }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
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
                let resumeNow = state.withLock { state -> Bool? in
                    // Checked under the lock: a signal or a cancellation that came
                    // before this registration is seen here, so the wait cannot hang.
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    if Task.isCancelled { return false }
                    state.waiters[id] = continuation
                    return nil
                }
                if let resumeNow {
                    continuation.resume(returning: resumeNow)
                    return
                }
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout.dispatchInterval) {
                    self.resume(id, signalled: false)
                }
            }
        } onCancel: {
            resume(id, signalled: false)
        }
    }

    /// Resumes waiter `id` if it still waits (a signal, its timer or its cancellation
    /// may each come first; the others then find nothing).
    private func resume(_ id: UInt64, signalled: Bool) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: signalled)
    }
}

extension Duration {
    /// The same span for a Dispatch deadline (capped at a million seconds).
    fileprivate var dispatchInterval: DispatchTimeInterval {
        .nanoseconds(Int(max(0, min(seconds, 1_000_000)) * 1_000_000_000))
    }
}
