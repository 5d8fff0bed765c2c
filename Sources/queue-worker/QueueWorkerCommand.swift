import CleaningPlatform
import CommandLineInterface
import JobQueue

/// `queue-worker`: the platform's worker process.
struct QueueWorkerCommand: Command {
    static let name = "queue-worker"
    static let summary = "run the platform's job handlers"
    static let help = """
        queue-worker — runs the platform's background jobs from the PostgreSQL queue

        Usage: queue-worker [OPTIONS]

        Claims jobs from the given queues and runs their handlers until SIGTERM or
        SIGINT; then stops claiming, lets running jobs finish within --grace seconds,
        releases the rest back to the queue and exits 0.

        Options:
        \(WorkerOptions.help)
        \(DatabaseOptions.help)
        """

    let options: WorkerOptions
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        options = try WorkerOptions(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments, applicationName: "queue-worker")
    }

    func run() async throws {
        let worker = try JobWorker(
            database: database.configuration, handlers: PlatformJobs.handlers(),
            configuration: options.configuration, log: JobLog(minimumLevel: options.logLevel))
        try await WorkerProcess.run(worker, metricsPort: options.metricsPort)
    }
}
