import CommandLineInterface
import JobQueue
import PostgresClient

/// `queue-testbed held`: the attempts one worker holds now, in the form
/// `queue-testbed verdict --held` reads (the chaos orchestrator records them when it
/// stops or kills that worker).
struct TestbedHeldCommand: Command {
    static let name = "held"
    static let summary = "the running attempts a worker holds on a queue, one WORKER JOB_ID ATTEMPT line each"
    static let help = """
        Usage: queue-testbed held --queue Q --worker NAME

        Prints one "WORKER JOB_ID ATTEMPT" line per job of the queue that is running
        under the worker's lease now; nothing when it holds none.

        Options:
          --queue Q            the queue, e.g. chaos_stall
          --worker NAME        the worker id, e.g. st-1
        \(DatabaseOptions.help)
        """
    static let options: [CommandOption] = [.value("--queue", "Q"), .value("--worker", "NAME")] + DatabaseOptions.options

    let queue: String
    let worker: String
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        guard let queue = try arguments.option("--queue"), let worker = try arguments.option("--worker") else {
            throw CommandError.usage("--queue and --worker are required", command: arguments.commandName)
        }
        self.queue = queue
        self.worker = worker
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        for attempt in try JobIdentifiers.held(by: worker, queue: queue, on: connection) {
            print("\(worker) \(attempt.id) \(attempt.attempt)")
        }
    }
}
