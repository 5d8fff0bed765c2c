import CleaningPlatform
import CommandLineInterface
import JobQueue

/// `jobsctl stats rollup [--day DAY]...`
struct StatsRollupCommand: Command {
    static let name = "rollup"
    static let summary = "queue a statistics rollup now (changed days and today, plus any days named)"
    static let options: [CommandOption] = [.value("--day", "DAY"), OutputFormat.option] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl stats rollup [--day DAY]... [--json]

        Queues the statistics rollup (job \(RollUpStatistics.kind), queue "\(PlatformJobs.maintenanceQueue)") and
        prints its job id; a worker working that queue runs it. It recomputes today,
        every day whose orders, reviews or customers changed since the last rollup,
        and the days given.

        Options:
          --day DAY            also recompute this business day, e.g. 2026-11-23 (repeatable)
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let request: JobRequest
    let format: OutputFormat
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let days = try arguments.options("--day")
        for day in days where BusinessDay(day) == nil {
            throw CommandError.usage("--day \"\(day)\" is not a day; write it as YYYY-MM-DD, e.g. 2026-11-23", command: "jobsctl stats rollup")
        }
        request = try JobRequest(RollUpStatistics(days: days.isEmpty ? nil : days), queue: PlatformJobs.maintenanceQueue)
        format = OutputFormat(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try await QueuedJob.enqueue(request, format: format, database: database)
    }
}
