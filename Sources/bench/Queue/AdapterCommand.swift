import BenchSupport
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `bench queue adapter`: the side-by-side harness's adapter contract — install,
/// enqueue, ANALYZE, process, latency — printing one JSON line on stdout.
struct AdapterCommand: Command {
    static let name = "adapter"
    static let summary = "run the job-queue harness's adapter phases (environment: PGURL, N, CONCURRENCY, …)"
    static let help = """
        Usage: bench queue adapter

        Runs the phases of the side-by-side job-queue harness's adapter contract against
        the fresh database in PGURL and prints one JSON line on stdout (logs on stderr):

          install   the project's migrations (MIGRATIONS_DIR, else the sql/ folder above
                    the executable); queue "default" deletes its completed jobs, as the
                    harness's limit does (QUEUE_BENCH_KEEP_COMPLETED=1 keeps them)
          enqueue   N no-op jobs, CONCURRENCY producers with their own connections,
                    ENQUEUE_BATCH jobs per enqueue call
          ANALYZE
          process   one JobWorker, queue "default" with concurrency CONCURRENCY, until all
                    N jobs ran and their completions are committed (shutdown + drain)
          latency   idle worker, then LAT_SAMPLES single enqueues every LAT_INTERVAL_MS;
                    enqueue-call-to-handler-start p50/p99 (LAT_TIMEOUT_S for the last)

        Environment: PGURL, N, CONCURRENCY (required); ENQUEUE_BATCH (1000), LAT_SAMPLES
        (100), LAT_INTERVAL_MS (50), LAT_TIMEOUT_S (30); QUEUE_BENCH_VERSION (shown as
        the version, with the retention mode); QUEUE_BENCH_KEEP_COMPLETED (1 keeps
        completed jobs as rows, the engine's default; unset or 0 deletes them).
        """

    init(arguments: inout Arguments) throws {}

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let parameters = try AdapterParameters(environment: environment)
        let database = PostgresConfiguration(conninfo: parameters.databaseURL, applicationName: "bench-queue")

        try BenchSchema.install(on: database)
        try await BenchSchema.keepCompleted(parameters.keepCompleted, on: database)
        Output.log("installed the queue schema; enqueueing \(parameters.jobs) jobs")

        let enqueue = try await BulkEnqueue(
            configuration: database, producers: parameters.concurrency, batchSize: parameters.enqueueBatch
        ).run(jobs: parameters.jobs).elapsed
        try BenchSchema.analyze(on: database)
        Output.log("enqueued in \(enqueue); processing with concurrency \(parameters.concurrency)")

        let processing = try await ProcessingRun(configuration: database, concurrency: parameters.concurrency)
            .run(target: parameters.jobs)
        let counts = try BenchSchema.stateCounts(on: database)
        // Deleted jobs are verified by their absence, and every handler ran once.
        let verified = BenchSchema.showAllCompleted(counts, jobs: parameters.jobs, keepCompleted: parameters.keepCompleted)
            && (parameters.keepCompleted || processing.handled == parameters.jobs)
        let completed = parameters.keepCompleted
            ? counts[.completed, default: 0] : parameters.jobs - counts.values.reduce(0, +)
        Output.log("processed \(processing.handled) jobs in \(processing.elapsed); rows by state: \(counts)")

        let latencies = try await LatencyProbe(
            configuration: database, concurrency: parameters.concurrency, samples: parameters.latencySamples,
            interval: parameters.latencyInterval, timeout: parameters.latencyTimeout
        ).run().toStart
        if latencies.count < parameters.latencySamples {
            Output.log("latency: only \(latencies.count) of \(parameters.latencySamples) probes started in time")
        }

        var notes = [
            "enqueue: PostgresConnection.enqueue([JobRequest]) with \(parameters.enqueueBatch) jobs per call "
                + "(one INSERT … unnest statement and commit per call)",
            "process: engine defaults — claims of up to \(WorkerConfiguration.defaultClaimBatchSize) jobs per round trip, "
                + "up to \(WorkerConfiguration.defaultPrefetch) claimed ahead of free slots while jobs are short, outcomes written in batches, "
                + (parameters.keepCompleted
                    ? "completed jobs kept as 'completed' rows (QUEUE_BENCH_KEEP_COMPLETED=1)"
                    : "completed jobs deleted at completion (the queue's keep_completed off)"),
            "worker log level warning (per-job info lines off)",
        ]
        if latencies.count < parameters.latencySamples {
            notes.append("latency: \(latencies.count) of \(parameters.latencySamples) samples")
        }
        let result = AdapterResult(
            enqueueJobsPerSecond: Double(parameters.jobs) / enqueue.seconds,
            processJobsPerSecond: Double(parameters.jobs) / processing.elapsed.seconds,
            latencyP50Milliseconds: Percentile.linear(latencies, 50),
            latencyP99Milliseconds: Percentile.linear(latencies, 99),
            latencySamples: latencies.count, verified: verified, processed: completed,
            concurrencyMeaning: "1 worker process: JobWorker with queue concurrency C (up to C jobs running at once), "
                + "its own pool of \(WorkerConfiguration(queues: ["default": parameters.concurrency]).maxConnections) "
                + "connections + 1 LISTEN connection; C producer connections for the enqueue",
            notes: notes.joined(separator: "; "),
            version: (environment["QUEUE_BENCH_VERSION"].flatMap { $0.isEmpty ? nil : $0 } ?? "cleaning-queue (dev)")
                + (parameters.keepCompleted ? ", completed jobs kept" : ", completed jobs deleted"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        Output.line(String(decoding: try encoder.encode(result), as: UTF8.self))
    }
}
