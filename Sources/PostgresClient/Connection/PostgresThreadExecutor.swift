import Foundation

/// A serial executor backed by one dedicated thread. libpq calls block; running
/// them on Swift's small cooperative pool would stall unrelated tasks, so each
/// `PostgresSession` runs on a thread of its own.
///
/// `@unchecked Sendable`: the only mutable state is `State.jobs`/`stopped`, always
/// accessed under `State.condition`'s lock; the thread is started once in `init`.
final class PostgresThreadExecutor: SerialExecutor, @unchecked Sendable {
    /// Shared with the thread; the thread holds this, not the executor, so the
    /// executor's `deinit` can tell the thread to finish.
    private final class State: @unchecked Sendable {
        let condition = NSCondition()
        var jobs: [UnownedJob] = []
        var stopped = false
        var executor: UnownedSerialExecutor?
    }

    private let state = State()

    init(name: String) {
        let state = self.state
        state.executor = asUnownedSerialExecutor()
        let thread = Thread {
            while true {
                state.condition.lock()
                while state.jobs.isEmpty && !state.stopped { state.condition.wait() }
                if state.jobs.isEmpty && state.stopped {
                    state.condition.unlock()
                    return
                }
                let batch = state.jobs
                state.jobs.removeAll(keepingCapacity: true)
                let executor = state.executor!
                state.condition.unlock()
                for job in batch { job.runSynchronously(on: executor) }
            }
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit {
        state.condition.lock()
        state.stopped = true
        state.condition.signal()
        state.condition.unlock()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        state.condition.lock()
        state.jobs.append(job)
        state.condition.signal()
        state.condition.unlock()
    }
}
