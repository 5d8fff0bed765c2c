import JobQueue
import PostgresClient

/// How every benchmark builds its worker: one `JobWorker` working the default queue
/// with the given concurrency and otherwise the engine's defaults (claim batches of
/// 20, LISTEN/NOTIFY plus a 1 s poll, batched outcomes), logging warnings and errors
/// only — the per-job "job completed" info lines would otherwise be most of the work.
enum BenchWorker {
    static func make(
        configuration: PostgresConfiguration, concurrency: Int, handlers: JobHandlerRegistry
    ) throws -> JobWorker {
        try JobWorker(
            database: configuration, handlers: handlers,
            configuration: WorkerConfiguration(queues: [JobRequest.defaultQueue: concurrency]),
            log: JobLog(minimumLevel: .warning))
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
}
