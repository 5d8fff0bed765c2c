import Synchronization

/// The attempts this process holds under a lease (running or claimed ahead), by job
/// id: what the heartbeat renews and shutdown stops.
final class RunningJobs: Sendable {
    private let attempts = Mutex<[Int64: LeasedAttempt]>([:])

    func add(_ attempt: LeasedAttempt) { attempts.withLock { $0[attempt.job.id] = attempt } }
    func remove(_ attempt: LeasedAttempt) { attempts.withLock { _ = $0.removeValue(forKey: attempt.job.id) } }
    var all: [LeasedAttempt] { attempts.withLock { Array($0.values) } }
    var count: Int { attempts.withLock { $0.count } }
}
