import BenchSupport
import JobQueue
import PostgresClient

/// Enqueues many no-op jobs with up to `producers` concurrent producers, each on its
/// own connection, `batchSize` jobs per `enqueue` call (one statement, one commit).
/// Producers take the next batch from a shared counter, so a slow one never holds
/// the others back. Connections are opened before the clock starts.
struct BulkEnqueue: Sendable {
    var configuration: PostgresConfiguration
    var producers: Int
    var batchSize: Int

    struct Outcome: Sendable {
        /// From the first enqueue call to the return of the last.
        var elapsed: Duration
        /// This process's CPU time meanwhile.
        var cpu: Duration
    }

    func run(jobs: Int) async throws -> Outcome {
        let batches = BatchDispenser(total: jobs, batchSize: batchSize)
        let sessions = (0..<max(1, min(producers, batches.batchCount))).map {
            PostgresSession(configuration: configuration, name: "producer-\($0)")
        }
        for session in sessions { try await session.withConnection { _ = try $0.query("SELECT 1") } }
        let full = Array(repeating: BenchJobs.noop, count: batchSize)
        let start = ContinuousClock.now
        let cpuStart = CPUTime.ofThisProcess()
        try await withThrowingDiscardingTaskGroup { group in
            for session in sessions {
                group.addTask {
                    while let size = batches.next() {
                        let requests = size == full.count ? full : Array(full.prefix(size))
                        _ = try await session.withConnection { try $0.enqueue(requests).count }
                    }
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        let cpu = CPUTime.ofThisProcess() - cpuStart
        for session in sessions { await session.disconnect() }
        return Outcome(elapsed: elapsed, cpu: cpu)
    }
}
