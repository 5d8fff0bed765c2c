import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient
import WorkerRuntime

struct TestbedWorkCommand: WorkerCommand {
    static let name = "work"
    static let summary = "run a worker with the synthetic kinds until SIGTERM/SIGINT"
    static let options: [CommandOption] = [
        .value("--sleep-timeout", "S"), .value("--cron", "\"NAME|CRON|KIND\""), .value("--leader-interval", "S", default: "1"),
    ] + WorkerOptions.options + DatabaseOptions.options
    static let defaultQueues = WorkerOptions.defaultQueues
    static let kinds = TestbedJobs.handlers().kinds
    static let help = """
        Usage: queue-testbed work [OPTIONS]

        Options:
          --sleep-timeout S    time limit for testbed.sleep jobs (default: none)
          --cron "NAME|CRON|KIND"  a periodic job (repeatable); CRON may have a seconds field
          --leader-interval S  seconds between the leader's rounds (default 1)
        \(WorkerOptions.help())
        \(DatabaseOptions.help)
        """

    var options: WorkerOptions
    let database: DatabaseOptions
    let sleepTimeout: Duration?
    let periodicJobs: [PeriodicJob]

    init(arguments: inout Arguments) throws {
        options = try WorkerOptions(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments)
        sleepTimeout = try arguments.seconds("--sleep-timeout", in: 0.001...86_400)
        let command = arguments.commandName
        let queue = options.configuration.queues.keys.sorted()[0]
        periodicJobs = try arguments.options("--cron").map { text in
            let parts = text.split(separator: "|").map(String.init)
            guard parts.count == 3 else {
                throw CommandError.usage("--cron takes \"NAME|CRON|KIND\", got \"\(text)\"", command: command)
            }
            do {
                return PeriodicJob(
                    name: parts[0], schedule: try CronSchedule(parts[1], timeZone: .gmt),
                    request: JobRequest(kind: parts[2], queue: queue))
            } catch {
                throw CommandError.usage("--cron \"\(text)\": \(error)", command: command)
            }
        }
        if let interval = try arguments.seconds("--leader-interval", in: 0.001...86_400) {
            options.configuration.leaderInterval = interval
        }
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        try TestbedJobs.createTables(on: connection)
        var handlers = TestbedJobs.handlers()
        if let sleepTimeout {
            handlers.register(SleepJob.self, options: JobKindOptions(timeout: sleepTimeout)) {
                arguments, _ in try await Task.sleep(for: .milliseconds(arguments.ms))
            }
        }
        let worker = try JobWorker(
            database: database.configuration, listenDatabase: options.listenDatabase, handlers: handlers, periodicJobs: periodicJobs,
            configuration: options.configuration,
            log: JobLog(minimumLevel: options.logLevel))
        try await WorkerProcess.run(worker, metricsPort: options.metricsPort, metricsHost: options.metricsHost)
    }
}
