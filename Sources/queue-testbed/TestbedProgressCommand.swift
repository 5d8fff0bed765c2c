import CommandLineInterface
import JobQueue
import PostgresClient

/// `queue-testbed progress`: how far a fault-injection run is, read through the
/// engine (the chaos orchestrator polls it instead of reading the job table).
struct TestbedProgressCommand: Command {
    static let name = "progress"
    static let summary = "one line of a queue's figures: jobs, completed, active, retried, the maintenance leader"
    static let help = """
        Usage: queue-testbed progress --queue Q [--kind KIND]

        Prints one line of name=value figures for the queue's jobs, or only those of
        one kind: jobs, completed, active (waiting or running), unfinished (not
        completed), retried (more than one attempt), with_errors, and leader (the
        worker leading the maintenance services, - when none).

        Options:
          --queue Q            the queue, e.g. chaos_kill_workers
          --kind KIND          only jobs of this kind
        \(DatabaseOptions.help)
        """
    static let options: [CommandOption] = [.value("--queue", "Q"), .value("--kind", "KIND")] + DatabaseOptions.options

    let queue: String
    let kind: String?
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        guard let queue = try arguments.option("--queue") else {
            throw CommandError.usage("--queue is required", command: arguments.commandName)
        }
        self.queue = queue
        kind = try arguments.option("--kind")
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        let counts = try JobCounts.byState(queue: queue, kind: kind, on: connection)
        let leader = try LeaderLease.maintenanceLeader(on: connection)
        print(Self.line(counts, leader: leader))
    }

    static func line(_ counts: [JobState: JobCounts.InState], leader: String?) -> String {
        func total(_ states: [JobState]) -> Int { states.compactMap { counts[$0]?.jobs }.reduce(0, +) }
        let all = counts.values
        return [
            "jobs=\(all.map(\.jobs).reduce(0, +))", "completed=\(total([.completed]))",
            "active=\(total(JobState.waiting + [.running]))",
            "unfinished=\(total(JobState.allCases.filter { $0 != .completed }))",
            "retried=\(all.map(\.retried).reduce(0, +))", "with_errors=\(all.map(\.withErrors).reduce(0, +))",
            "leader=\(leader ?? "-")",
        ].joined(separator: " ")
    }
}
