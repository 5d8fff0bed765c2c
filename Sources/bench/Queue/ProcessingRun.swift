import BenchSupport
import JobQueue
import PostgresClient

/// One worker (in this process) processes the queue's no-op jobs until `target`
/// handlers have run; then `shutdown()` and the return of `run()`, which waits for the
/// jobs still running and writes every buffered outcome. The clock runs from starting
/// the worker to that return, so every counted job is executed and its completion
/// committed. A few more than `target` may run when the queue holds more.
struct ProcessingRun: Sendable {
    var configuration: PostgresConfiguration
    var concurrency: Int
    /// A direct connection for the worker's LISTEN when `configuration` is pooled.
    var listenDatabase: PostgresConfiguration? = nil

    struct Outcome: Sendable {
        var elapsed: Duration
        /// Handlers that ran (≥ target).
        var handled: Int
        /// This process's CPU time meanwhile (the worker's, nothing else runs).
        var cpu: Duration
    }

    func run(target: Int) async throws -> Outcome {
        let counter = CompletionCounter(target: target)
        let worker = try BenchWorker.make(
            configuration: configuration, listenDatabase: listenDatabase, concurrency: concurrency,
            handlers: BenchJobs.counting(counter))
        try await BenchWorker.warmUp(worker)
        let start = ContinuousClock.now
        let cpuStart = CPUTime.ofThisProcess()
        let running = Task { try await worker.run() }
        await counter.waitForTarget()
        worker.shutdown()
        try await running.value
        let elapsed = ContinuousClock.now - start
        return Outcome(elapsed: elapsed, handled: counter.count, cpu: CPUTime.ofThisProcess() - cpuStart)
    }
}
