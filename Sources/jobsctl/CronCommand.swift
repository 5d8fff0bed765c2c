import CommandLineInterface
import JobQueue

/// `jobsctl cron list`
struct CronCommand: CommandGroup {
    static let name = "cron"
    static let summary = "periodic jobs"
    static let help = "Usage: jobsctl cron COMMAND [OPTIONS]"
    static let subcommands: [any CommandDescription.Type] = [CronListCommand.self]
}

struct CronListCommand: Command {
    static let name = "list"
    static let summary = "periodic jobs with their last and next fire times"
    static let options: [CommandOption] = [OutputFormat.option] + ReadDatabaseOptions.options
    static let help = """
        Usage: jobsctl cron list [--json]

        Schedules as the leading worker registered them (they are defined in code).

        \(OutputFormat.help)
        \(ReadDatabaseOptions.help)
        """

    let format: OutputFormat
    let database: ReadDatabaseOptions

    init(arguments: inout Arguments) throws {
        format = OutputFormat(arguments: &arguments)
        database = try ReadDatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let schedules = try await AdminConnection.administration(database).schedules()
        if format == .json {
            print(try OutputFormat.json(schedules))
            return
        }
        var table = TextTable(["name", "schedule", "time zone", "kind", "queue", "last fire", "next fire", "enabled"])
        for schedule in schedules {
            table.append([
                schedule.name, schedule.expression, schedule.timeZone, schedule.kind, schedule.queue,
                DisplayFormat.date(schedule.lastFireAt), DisplayFormat.date(schedule.nextFireAt),
                schedule.enabled ? "yes" : "no (disabled in the console)",
            ])
        }
        print(schedules.isEmpty ? "no periodic jobs registered yet (a worker registers them when it leads)" : table.render())
    }
}
