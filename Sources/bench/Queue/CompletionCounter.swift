import BenchSupport
import Synchronization

/// Counts handler runs and wakes one waiter once a target is reached. Handlers call
/// `increment()` concurrently; the lock is held only for the counter update.
final class CompletionCounter: Sendable {
    private struct State {
        var count = 0
        var target: Int
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state: Mutex<State>

    init(target: Int) {
        state = Mutex(State(target: target))
    }

    var count: Int { state.withLock { $0.count } }

    func increment() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.count += 1
            guard state.count >= state.target else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Returns once `target` increments happened (at once if they already did).
    func waitForTarget() async {
        await withCheckedContinuation { continuation in
            let reached = state.withLock { state -> Bool in
                if state.count >= state.target { return true }
                state.waiter = continuation
                return false
            }
            if reached { continuation.resume() }
        }
    }
}
