import CommandLineInterface
import JobQueue
import PostgresClient

struct TestbedWorkCommand: Command {
    static let name = "work"
    static let summary = "run a worker with the synthetic kinds until SIGTERM/SIGINT"
    static let help = """
        Usage: queue-testbed work [OPTIONS]

        Options:
          --sleep-timeout S    time limit for testbed.sleep jobs (default: none)
        \(WorkerOptions.help)
        \(DatabaseOptions.help)
        """

    let options: WorkerOptions
    let database: DatabaseOptions
    let sleepTimeout: Double?

    init(arguments: inout Arguments) throws {
        options = try WorkerOptions(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments, applicationName: "queue-testbed")
        sleepTimeout = try arguments.option("--sleep-timeout", as: Double.self)
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        try connection.executeScript(TestbedJobs.createEffects)
        var handlers = TestbedJobs.handlers()
        if let sleepTimeout {
            handlers.register(SleepJob.self, options: JobKindOptions(timeout: .milliseconds(Int64(sleepTimeout * 1000)))) {
                arguments, _ in try await Task.sleep(for: .milliseconds(arguments.ms))
            }
        }
        let worker = try JobWorker(
            database: database.configuration, handlers: handlers, configuration: options.configuration,
            log: JobLog(minimumLevel: options.verbose ? .debug : .info))
        try await WorkerProcess.run(worker)
    }
}
