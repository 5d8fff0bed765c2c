import BenchSupport
import Synchronization

/// Hands out batch sizes until `total` jobs are covered.
final class BatchDispenser: Sendable {
    let batchCount: Int
    private let total: Int
    private let batchSize: Int
    private let handedOut = Mutex(0)

    init(total: Int, batchSize: Int) {
        self.total = total
        self.batchSize = batchSize
        batchCount = (total + batchSize - 1) / batchSize
    }

    func next() -> Int? {
        handedOut.withLock { handedOut in
            guard handedOut < total else { return nil }
            let size = min(batchSize, total - handedOut)
            handedOut += size
            return size
        }
    }
}
