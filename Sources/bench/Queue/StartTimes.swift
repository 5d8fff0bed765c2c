import BenchSupport
import Synchronization

/// When each latency probe's handler started, by sample number.
final class StartTimes: Sendable {
    private let starts = Mutex<[Int: ContinuousClock.Instant]>([:])

    func record(_ sample: Int, at instant: ContinuousClock.Instant) {
        starts.withLock { $0[sample] = $0[sample] ?? instant }
    }

    var count: Int { starts.withLock { $0.count } }

    func start(of sample: Int) -> ContinuousClock.Instant? { starts.withLock { $0[sample] } }
}
