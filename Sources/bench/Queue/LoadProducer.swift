import BenchSupport
import JobQueue
import PostgresClient
import Synchronization

/// The producer of a sustained load: every tick it enqueues no-op jobs on its own
/// connection — at a fixed rate (what is due since the start), or, with rate 0, as
/// many as keep `backlog` jobs outstanding so the worker never runs dry.
final class LoadProducer: Sendable {
    let session: PostgresSession
    let rate: Int
    let backlog: Int
    private let enqueuedCount = Mutex(0)

    static let tick = Duration.milliseconds(50)
    /// Most jobs per enqueue call (one statement, one commit), when catching up.
    static let largestBatch = 5000

    init(configuration: PostgresConfiguration, rate: Int, backlog: Int) {
        session = PostgresSession(configuration: configuration, name: "load-producer")
        self.rate = rate
        self.backlog = backlog
    }

    var enqueued: Int { enqueuedCount.withLock { $0 } }

    func connect() async throws {
        try await session.withConnection { _ = try $0.query("SELECT 1") }
    }

    /// Enqueues from `start` until `end`; `handled` counts the jobs the worker ran.
    func run(from start: ContinuousClock.Instant, until end: ContinuousClock.Instant, handled: CompletionCounter)
        async throws
    {
        var next = start
        while ContinuousClock.now < end {
            var due =
                rate > 0
                ? Int(Double(rate) * (ContinuousClock.now - start).seconds) - enqueued
                : backlog - (enqueued - handled.count)
            while due > 0 {
                let size = min(due, Self.largestBatch)
                let requests = Array(repeating: BenchJobs.noop, count: size)
                _ = try await session.withConnection { try $0.enqueue(requests).count }
                enqueuedCount.withLock { $0 += size }
                due -= size
            }
            next += Self.tick
            try await Task.sleep(until: next, clock: .continuous)
        }
    }

    func disconnect() async { await session.disconnect() }
}
