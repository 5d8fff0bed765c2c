import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `jobsctl stats [queues] [--json] [--watch]`
struct QueueStatsCommand: Command {
    static let name = "queues"
    static let summary = "per-queue counts, throughput, failures and the oldest waiting job (the default)"
    static let options: [CommandOption] = [.value("--watch", "[SECONDS]", default: "2"), OutputFormat.option] + ReadDatabaseOptions.options
    static let help = """
        Usage: jobsctl stats [queues] [--json] [--watch [SECONDS]]

        Per queue: jobs by state, completed in the last minute and hour ("–" where the
        queue deletes its completed jobs), discarded in the last hour, and how long the
        oldest runnable job has waited. Read from a
        hot standby (--read-url, DATABASE_READ_URL), it first says so and how far the
        standby's replay trails the primary (on standard error with --json).

        Options:
          --watch [SECONDS]    refresh every SECONDS (default 2) until interrupted
        \(OutputFormat.help)
        \(ReadDatabaseOptions.help)
        """

    let format: OutputFormat
    let watchInterval: Duration?
    let database: ReadDatabaseOptions

    init(arguments: inout Arguments) throws {
        format = OutputFormat(arguments: &arguments)
        if arguments.flag("--watch") {
            watchInterval = try arguments.positional().map {
                try arguments.seconds($0, named: "--watch", in: 0.1...86_400)
            } ?? .seconds(2)
        } else {
            watchInterval = nil
        }
        database = try ReadDatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let administration = AdminConnection.administration(database)
        repeat {
            let statistics = try await administration.statistics()
            var text = format == .json ? try OutputFormat.json(statistics) : Self.table(statistics)
            let standby = try await StandbyStatus.read(on: administration.database)
            if standby.isStandby {
                let line = Self.standbyLine(standby)
                if format == .json { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { text = line + "\n" + text }
            }
            if watchInterval != nil && OutputFormat.isTerminal {
                print("\u{1B}[H\u{1B}[2J" + DisplayFormat.date(Date()) + "\n" + text)
            } else {
                print(text)
            }
            if let watchInterval { try await Task.sleep(for: watchInterval) }
        } while watchInterval != nil
    }

    /// The replay lag: how stale every figure below may be.
    static func standbyLine(_ standby: StandbyStatus) -> String {
        let lag = standby.replayLagSeconds.map { "replay lag \(DisplayFormat.age(seconds: $0))" } ?? "nothing replayed yet"
        return "read from a hot standby: \(lag)"
    }

    static func table(_ statistics: [JobAdministration.QueueStatistics]) -> String {
        let states: [JobState] = [.available, .running, .scheduled, .retryable, .pending, .completed, .discarded, .cancelled]
        var table = TextTable(["queue"] + states.map(\.rawValue) + ["done/min", "done/h", "failed/h", "oldest wait"])
        for queue in statistics {
            let done = queue.keepsCompleted ? ["\(queue.completedLastMinute)", "\(queue.completedLastHour)"] : ["–", "–"]
            table.append(
                [queue.queue] + states.map { "\(queue.counts[$0.rawValue, default: 0])" } + done + [
                    "\(queue.failedLastHour)", DisplayFormat.age(seconds: queue.oldestAvailableAgeSeconds),
                ])
        }
        guard !statistics.isEmpty else { return "no jobs yet" }
        let deleting = statistics.filter { !$0.keepsCompleted }.map(\.queue)
        guard !deleting.isEmpty else { return table.render() }
        return table.render() + "\n" + deletedCompletionsNote(deleting)
    }

    /// Why a queue's done/min and done/h read "–": its completed jobs leave no rows to count.
    static func deletedCompletionsNote(_ queues: [String]) -> String {
        "–: \(queues.joined(separator: ", ")) delete\(queues.count == 1 ? "s" : "") completed jobs "
            + "(jobsctl queues completed QUEUE keep|delete), so no rows count them; the workers' metric "
            + "queue_worker_jobs_total does"
    }
}
