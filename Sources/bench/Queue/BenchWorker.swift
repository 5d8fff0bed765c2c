import BenchSupport
import JobQueue
import PostgresClient

/// How every benchmark builds its worker: one `JobWorker` working the default queue
/// with the given concurrency (LISTEN on `listenDatabase` when given) and otherwise the engine's defaults (claim batches of
/// 40, claim-ahead of 32, LISTEN/NOTIFY plus a 1 s poll, batched outcomes), logging warnings and errors
/// only — the per-job "job completed" info lines would otherwise be most of the work.
/// `customize` changes other settings for one benchmark (the bloat run's retention).
enum BenchWorker {
    static func make(
        configuration: PostgresConfiguration, listenDatabase: PostgresConfiguration? = nil, concurrency: Int,
        handlers: JobHandlerRegistry, customize: (inout WorkerConfiguration) -> Void = { _ in }
    ) throws -> JobWorker {
        var settings = WorkerConfiguration(queues: [JobRequest.defaultQueue: concurrency])
        customize(&settings)
        return try JobWorker(
            database: configuration, listenDatabase: listenDatabase, handlers: handlers, configuration: settings, log: JobLog(minimumLevel: .warning))
    }

    /// Opens every connection of the worker's pool before a measurement starts (the
    /// contract allows connections to be opened before the clock): as many
    /// overlapping short statements as the pool has connections make it open them all.
    static func warmUp(_ worker: JobWorker) async throws {
        let pool = worker.database
        try await withThrowingDiscardingTaskGroup { group in
            for _ in 0..<pool.maxConnections {
                group.addTask { try await pool.query("SELECT pg_sleep(0.02)") }
            }
        }
    }

    /// Runs `worker` while `body` runs, then shuts it down and waits for it to return
    /// (running jobs finish, buffered outcomes are written) — also when `body` throws.
    static func running<T>(_ worker: JobWorker, _ body: () async throws -> T) async throws -> T {
        let task = Task { try await worker.run() }
        let value: T
        do {
            value = try await body()
        } catch {
            worker.shutdown()
            _ = await task.result
            throw error
        }
        worker.shutdown()
        try await task.value
        return value
    }
}
