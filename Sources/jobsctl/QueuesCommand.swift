import CommandLineInterface
import JobQueue

/// `jobsctl queues list|pause|resume|limit|aging|completed`
struct QueuesCommand: CommandGroup {
    static let name = "queues"
    static let summary = "list queues; pause, resume, limit concurrency across all workers"
    static let help = "Usage: jobsctl queues COMMAND [OPTIONS]"
    static let subcommands: [any CommandDescription.Type] = [
        QueuesListCommand.self, QueuesPauseCommand.self, QueuesResumeCommand.self, QueuesLimitCommand.self,
        QueuesAgingCommand.self, QueuesCompletedCommand.self,
    ]
}

struct QueuesListCommand: Command {
    static let name = "list"
    static let summary = "queues with their settings and waiting/running counts"
    static let options: [CommandOption] = [OutputFormat.option] + ReadDatabaseOptions.options
    static let help = """
        Usage: jobsctl queues list [--json]

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
        let queues = try await AdminConnection.administration(database).queues()
        if format == .json {
            print(try OutputFormat.json(queues))
            return
        }
        var table = TextTable(["queue", "paused", "limit", "aging", "completed", "available", "running", "scheduled"])
        for queue in queues {
            table.append([
                queue.name, queue.paused ? "yes" : "no", queue.concurrencyLimit.map(String.init) ?? "-",
                queue.priorityAgingSeconds.map { "\($0)s" } ?? "-", CompletedJobs(keep: queue.keepCompleted).rawValue,
                "\(queue.available)", "\(queue.running)",
                "\(queue.scheduled)",
            ])
        }
        print(queues.isEmpty ? "no queues yet" : table.render())
    }
}

/// Reads the QUEUE argument the single-queue commands share.
private func queueName(_ arguments: inout Arguments) throws -> String {
    let name = try arguments.required("QUEUE")
    guard (1...100).contains(name.count) else {
        throw CommandError.usage("a queue name has 1 to 100 characters", command: arguments.commandName)
    }
    return name
}

/// Reads "N" (a whole number in `range`) or "none" (nil), the form limit and aging share.
private func countOrNone(_ arguments: inout Arguments, what: String, in range: ClosedRange<Int>) throws -> Int? {
    let text = try arguments.required("\(what) (a whole number or none)")
    if text == "none" { return nil }
    return try arguments.integer(text, named: what, in: range)
}

struct QueuesPauseCommand: Command {
    static let name = "pause"
    static let summary = "stop every worker from claiming from a queue"
    static let options: [CommandOption] = DatabaseOptions.options
    static let help = """
        Usage: jobsctl queues pause QUEUE

        Running jobs finish; no worker process claims new ones until `queues resume`.

        \(DatabaseOptions.help)
        """

    let queue: String
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        queue = try queueName(&arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try await AdminConnection.administration(database).setPaused(queue, true)
        print("queue \(queue) paused")
    }
}

struct QueuesResumeCommand: Command {
    static let name = "resume"
    static let summary = "let workers claim from a paused queue again"
    static let options: [CommandOption] = DatabaseOptions.options
    static let help = """
        Usage: jobsctl queues resume QUEUE

        \(DatabaseOptions.help)
        """

    let queue: String
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        queue = try queueName(&arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try await AdminConnection.administration(database).setPaused(queue, false)
        print("queue \(queue) resumed")
    }
}

struct QueuesLimitCommand: Command {
    static let name = "limit"
    static let summary = "cap a queue's running jobs across all worker processes"
    static let options: [CommandOption] = DatabaseOptions.options
    static let help = """
        Usage: jobsctl queues limit QUEUE (N | none)

        At most N jobs of QUEUE run at once, counted over every worker process
        (each process's own --concurrency still applies). `none` removes the cap.

        \(DatabaseOptions.help)
        """

    let queue: String
    let limit: Int?
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        queue = try queueName(&arguments)
        limit = try countOrNone(&arguments, what: "the limit", in: 1...Int(Int32.max))
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try await AdminConnection.administration(database).setConcurrencyLimit(queue, limit)
        print("queue \(queue): " + (limit.map { "at most \($0) running across all workers" } ?? "no global limit"))
    }
}

struct QueuesAgingCommand: Command {
    static let name = "aging"
    static let summary = "raise waiting jobs' priority over time so none starves"
    static let options: [CommandOption] = DatabaseOptions.options
    static let help = """
        Usage: jobsctl queues aging QUEUE (SECONDS | none)

        A job that waited SECONDS at its priority moves up one step (towards 0).

        \(DatabaseOptions.help)
        """

    let queue: String
    let seconds: Int?
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        queue = try queueName(&arguments)
        seconds = try countOrNone(&arguments, what: "SECONDS", in: 1...Int(Int32.max))
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try await AdminConnection.administration(database).setPriorityAging(queue, seconds: seconds)
        print("queue \(queue): " + (seconds.map { "priority ages one step per \($0)s" } ?? "no priority aging"))
    }
}

/// What becomes of a queue's completed jobs, as `queues completed` takes and `queues list` shows it.
enum CompletedJobs: String, CaseIterable {
    case keep
    case delete

    init(keep: Bool) { self = keep ? .keep : .delete }
}

struct QueuesCompletedCommand: Command {
    static let name = "completed"
    static let summary = "keep a queue's completed jobs (default) or delete them when they complete"
    static let options: [CommandOption] = DatabaseOptions.options
    static let help = """
        Usage: jobsctl queues completed QUEUE (keep | delete)

        keep    completed jobs stay as `completed` rows until retention prunes them
                (the default): `jobs show`, lists and `stats` see them.
        delete  a job is deleted when it completes, which makes a completion write
                less: for high-volume queues whose finished jobs nobody looks at. Still
                kept: failed, cancelled and discarded jobs, members of a batch, and
                jobs whose unique key is kept `always`. Workers' metrics still count
                deleted jobs as completed; `stats` shows – for its completions.
        Every worker process follows the setting from its next acknowledgement.

        \(DatabaseOptions.help)
        """

    let queue: String
    let choice: CompletedJobs
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        queue = try queueName(&arguments)
        // The options first, so a password given on the command line is refused before
        // a missing choice is reported (ArgumentSweepTests).
        database = try DatabaseOptions(arguments: &arguments)
        let text = try arguments.required("keep or delete")
        guard let choice = CompletedJobs(rawValue: text) else {
            throw CommandError.usage(
                "\"\(text)\" is neither keep nor delete: say what becomes of QUEUE's completed jobs",
                command: arguments.commandName)
        }
        self.choice = choice
    }

    func run() async throws {
        try await AdminConnection.administration(database).setKeepCompleted(queue, choice == .keep)
        print("queue \(queue): " + (choice == .keep
            ? "completed jobs are kept until retention prunes them"
            : "completed jobs are deleted when they complete"))
    }
}
