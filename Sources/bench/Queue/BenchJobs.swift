import BenchSupport
import JobQueue

/// The job kinds the benchmarks enqueue. The no-op job measures the engine's own cost
/// per job; the probe carries its sample number so its start can be matched with the
/// moment it was enqueued.
struct NoopJob: JobArguments {
    static let kind = "bench.noop"
}

struct ProbeJob: JobArguments {
    static let kind = "bench.probe"
    var sample: Int
}

enum BenchJobs {
    /// What the bulk enqueue inserts and the worker runs: a no-op with `{}` arguments on
    /// the default queue; the backlog fill enqueues the same request.
    static let noop = JobRequest(kind: NoopJob.kind)

    /// A handler registry whose no-op handler does nothing but count.
    static func counting(_ counter: CompletionCounter) -> JobHandlerRegistry {
        var handlers = JobHandlerRegistry()
        handlers.register(NoopJob.self) { _, _ in counter.increment() }
        return handlers
    }

    /// The same no-op handler that also records each job's enqueue-to-start wait.
    static func timing(_ counter: CompletionCounter, _ latencies: StartLatencies) -> JobHandlerRegistry {
        var handlers = JobHandlerRegistry()
        handlers.register(NoopJob.self) { _, context in
            latencies.record(createdAt: context.job.createdAt)
            counter.increment()
        }
        return handlers
    }
}
