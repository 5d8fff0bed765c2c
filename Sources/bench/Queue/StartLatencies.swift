import Foundation
import Synchronization

/// Each handled job's wait from its enqueue (the job row's `created_at`, the server's
/// clock) to its handler's start (this process's clock, the same machine's), in
/// microseconds, for a `bench queue work --until-stopped` process to report.
final class StartLatencies: Sendable {
    private let values = Mutex<[Int]>([])

    func record(createdAt: Date) {
        let microseconds = Int((Date().timeIntervalSince(createdAt) * 1e6).rounded())
        values.withLock { $0.append(microseconds) }
    }

    var microseconds: [Int] { values.withLock { $0 } }
}
