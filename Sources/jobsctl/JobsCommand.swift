import CommandLineInterface
import Foundation
import JobQueue

/// `jobsctl jobs list|show|retry|cancel|delete`
struct JobsCommand: CommandGroup {
    static let name = "jobs"
    static let summary = "list, inspect, retry, cancel and delete jobs"
    static let help = "Usage: jobsctl jobs COMMAND [OPTIONS]"
    static let subcommands: [any CommandDescription.Type] = [
        JobsListCommand.self, JobsShowCommand.self, JobsRetryCommand.self, JobsCancelCommand.self,
        JobsDeleteCommand.self,
    ]
}

struct JobsListCommand: Command {
    static let name = "list"
    static let summary = "list jobs, newest first"
    static let options: [CommandOption] = [
        .value("--state", "STATE"), .value("--queue", "Q"), .value("--kind", "KIND"), .value("--limit", "N", default: "50"),
        OutputFormat.option,
    ] + ReadDatabaseOptions.options
    static let help = """
        Usage: jobsctl jobs list [--state STATE] [--queue Q] [--kind KIND] [--limit N] [--json]

        Options:
          --state STATE        \(JobState.allCases.map(\.rawValue).joined(separator: ", "))
          --queue Q            only this queue
          --kind KIND          only this kind
          --limit N            at most N jobs (default 50)
        \(OutputFormat.help)
        \(ReadDatabaseOptions.help)
        """

    let state: JobState?
    let queue: String?
    let kind: String?
    let limit: Int
    let format: OutputFormat
    let database: ReadDatabaseOptions

    init(arguments: inout Arguments) throws {
        if let text = try arguments.option("--state") {
            guard let state = JobState(rawValue: text) else {
                throw CommandError.usage(
                    "unknown state \"\(text)\"; states: \(JobState.allCases.map(\.rawValue).joined(separator: ", "))",
                    command: arguments.commandName)
            }
            self.state = state
        } else {
            state = nil
        }
        queue = try arguments.option("--queue")
        kind = try arguments.option("--kind")
        limit = try arguments.integer("--limit", in: 1...100_000) ?? 50
        format = OutputFormat(arguments: &arguments)
        database = try ReadDatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let jobs = try await AdminConnection.administration(database).list(
            state: state, queue: queue, kind: kind, limit: limit)
        if format == .json {
            print(try OutputFormat.json(jobs))
            return
        }
        var table = TextTable(["id", "kind", "queue", "state", "prio", "attempt", "run at", "finished"])
        for job in jobs {
            table.append([
                "\(job.id)", job.kind, job.queue, job.state.rawValue, "\(job.priority)", "\(job.attempt)/\(job.maxAttempts)",
                DisplayFormat.date(job.runAt), DisplayFormat.date(job.finalizedAt),
            ])
        }
        print(jobs.isEmpty ? "no jobs match" : table.render())
    }
}

struct JobsShowCommand: Command {
    static let name = "show"
    static let summary = "show one job: arguments, attempts and their errors, timings"
    static let options: [CommandOption] = [OutputFormat.option] + ReadDatabaseOptions.options
    static let help = """
        Usage: jobsctl jobs show ID [--json]

        \(OutputFormat.help)
        \(ReadDatabaseOptions.help)
        """

    let id: Int64
    let format: OutputFormat
    let database: ReadDatabaseOptions

    init(arguments: inout Arguments) throws {
        id = try AdminConnection.jobID(try arguments.required("job ID"), arguments: arguments)
        format = OutputFormat(arguments: &arguments)
        database = try ReadDatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        guard let detail = try await AdminConnection.administration(database).show(id) else {
            throw CommandError.failed("job \(id) does not exist (see `jobsctl jobs list`)")
        }
        if format == .json {
            print(try OutputFormat.json(detail))
            return
        }
        let job = detail.job
        var lines = [
            "job \(job.id)  \(job.kind)  queue=\(job.queue)  state=\(job.state)  priority=\(job.priority)",
            "attempt     \(job.attempt) of \(job.maxAttempts)",
            "arguments   \(detail.arguments)",
            "created     \(DisplayFormat.date(job.createdAt))",
            "run at      \(DisplayFormat.date(job.runAt))",
            "attempted   \(DisplayFormat.date(detail.attemptedAt))\(detail.leasedBy.map { " by \($0)" } ?? "")",
            "finished    \(DisplayFormat.date(job.finalizedAt))",
        ]
        if let lease = detail.leaseExpiresAt { lines.append("lease until \(DisplayFormat.date(lease))") }
        if !detail.tags.isEmpty { lines.append("tags        \(detail.tags.joined(separator: ", "))") }
        if let key = detail.uniqueKey { lines.append("unique key  \(key)") }
        if let deadline = detail.deadline { lines.append("deadline    \(DisplayFormat.date(deadline))") }
        if !detail.dependsOn.isEmpty { lines.append("depends on  \(detail.dependsOn.map(String.init).joined(separator: ", "))") }
        if let batch = detail.batchID { lines.append("batch       \(batch)") }
        if detail.errors.isEmpty {
            lines.append("errors      none")
        } else {
            lines.append("errors:")
            for error in detail.errors {
                lines.append("  attempt \(error.attempt) at \(error.at)\(error.worker.map { " on \($0)" } ?? ""): \(error.error)")
            }
        }
        print(lines.joined(separator: "\n"))
    }
}

struct JobsRetryCommand: Command {
    static let name = "retry"
    static let summary = "run a job again now (or every discarded job of a kind)"
    static let options: [CommandOption] = [.flag("--discarded"), .value("--kind", "KIND")] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl jobs retry ID
               jobsctl jobs retry --discarded --kind KIND

        Makes a finished, failed or waiting job available now, with at least one more
        attempt. A running job cannot be retried.

        Options:
          --discarded          every discarded job of --kind instead of one ID
          --kind KIND          the kind whose discarded jobs to retry (with --discarded)
        \(DatabaseOptions.help)
        """

    let id: Int64?
    let discardedKind: String?
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        if arguments.flag("--discarded") {
            guard let kind = try arguments.option("--kind") else {
                throw CommandError.usage("--discarded needs --kind KIND", command: command)
            }
            discardedKind = kind
            id = nil
        } else {
            id = try AdminConnection.jobID(try arguments.required("job ID (or --discarded --kind KIND)"), arguments: arguments)
            discardedKind = nil
        }
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let administration = AdminConnection.administration(database)
        if let kind = discardedKind {
            let count = try await administration.retryDiscarded(kind: kind)
            print("retrying \(count) discarded \(kind) job\(count == 1 ? "" : "s")")
        } else if let id {
            try AdminConnection.report(try await administration.retry(id), id: id, verb: "retry", done: "retried")
        }
    }
}

struct JobsCancelCommand: Command {
    static let name = "cancel"
    static let summary = "cancel a job (a running one is stopped cooperatively)"
    static let options: [CommandOption] = DatabaseOptions.options
    static let help = """
        Usage: jobsctl jobs cancel ID

        A waiting job is cancelled at once. A running job is asked to stop: its worker
        cancels the handler at its next heartbeat and records the job as cancelled.

        \(DatabaseOptions.help)
        """

    let id: Int64
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        id = try AdminConnection.jobID(try arguments.required("job ID"), arguments: arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try AdminConnection.report(try await AdminConnection.administration(database).cancel(id), id: id, verb: "cancel", done: "cancelled")
    }
}

struct JobsDeleteCommand: Command {
    static let name = "delete"
    static let summary = "delete a job that is not running"
    static let options: [CommandOption] = DatabaseOptions.options
    static let help = """
        Usage: jobsctl jobs delete ID

        \(DatabaseOptions.help)
        """

    let id: Int64
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        id = try AdminConnection.jobID(try arguments.required("job ID"), arguments: arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try AdminConnection.report(try await AdminConnection.administration(database).delete(id), id: id, verb: "delete", done: "deleted")
    }
}
