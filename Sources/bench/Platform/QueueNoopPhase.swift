import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// The queue's own processing rate on this machine, in this run: no-op jobs on the
/// notifications queue, worked by the same JobWorkers (count, concurrency,
/// connections) as the dispatch step. The dispatch rate is compared with it.
struct QueueNoopPhase {
    let options: PlatformOptions
    let pool: PostgresPool
    let serverPID: Int32?

    struct Result: Sendable {
        var jobs: Int
        /// Workers' start → every job handled and every outcome written.
        var processing: Duration
        var cpu: CPUSpent
        var completed: Int
        var rate: Double { Double(jobs) / processing.seconds }
        var verified: Bool { completed == jobs }
    }

    func run() async throws -> Result {
        let count = options.noopJobs
        let queuedSince = try await pool.query("SELECT now()").scalar(Date.self)
        Output.log("enqueueing \(count) no-op jobs on queue \(NotificationOutbox.dispatchQueue) (untimed) …")
        let request = JobRequest(kind: NoopJob.kind, queue: NotificationOutbox.dispatchQueue)
        for start in stride(from: 0, to: count, by: 1_000) {
            let batch = [JobRequest](repeating: request, count: min(1_000, count - start))
            _ = try await pool.withConnection { try $0.enqueue(batch) }
        }
        _ = try await pool.withConnection { try Settle.run([JobTable.analyze], on: $0) }

        let counter = CompletionCounter(target: count)
        let workers = try (0..<options.workers).map { index in
            try JobWorker(
                database: options.database.configuration, handlers: BenchJobs.counting(counter),
                configuration: options.dispatchWorkerConfiguration(name: "noop", index: index),
                log: LogTally().log(minimumLevel: .warning))
        }
        Output.log(
            "processing \(count) no-op jobs: \(options.workers) worker(s) × concurrency \(options.concurrency) …")
        let started = ContinuousClock.now
        let cpuBefore = CPUSample.take(serverPID: serverPID)
        let running = workers.map { worker in Task { try await worker.run() } }
        await counter.waitForTarget()
        for worker in workers { worker.shutdown() }
        for task in running { try await task.value }
        let processing = ContinuousClock.now - started
        let cpu = cpuBefore.until(CPUSample.take(serverPID: serverPID))
        let completed = try await pool.withConnection { connection in
            try JobCounts.byState(kind: NoopJob.kind, createdSince: queuedSince, on: connection)[.completed]?.jobs ?? 0
        }
        return Result(jobs: count, processing: processing, cpu: cpu, completed: completed)
    }
}
