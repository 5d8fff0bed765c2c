import CommandLineInterface
import JobQueue
import PostgresClient

struct TestbedEnqueueCommand: Command {
    static let name = "enqueue"
    static let summary = "enqueue N synthetic jobs in batches"
    static let options: [CommandOption] = [
        .value("--kind", "KIND"), .value("--count", "N", default: "1000"), .value("--batch", "N", default: "10000"),
        .value("--args", "JSON", default: "{}"), .value("--queue", "Q", default: "default"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: queue-testbed enqueue --kind KIND [--count N] [--batch N] [--args JSON] [--queue Q]

        Options:
          --kind KIND          a kind from `queue-testbed --help`, e.g. testbed.noop
          --count N            jobs to enqueue (default 1000)
          --batch N            jobs per statement (default 10000)
          --args JSON          arguments of every job (default {})
          --queue Q            queue (default "default")
        \(DatabaseOptions.help)
        """

    let kind: String
    let count: Int
    let batch: Int
    let argumentsJSON: String
    let queue: String
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        guard let kind = try arguments.option("--kind") else {
            throw CommandError.usage("--kind is required", command: arguments.commandName)
        }
        self.kind = kind
        count = try arguments.integer("--count", in: 0...100_000_000) ?? 1000
        batch = try arguments.integer("--batch", in: 1...100_000) ?? 10_000
        argumentsJSON = try arguments.option("--args") ?? "{}"
        queue = try arguments.option("--queue") ?? JobRequest.defaultQueue
        do {
            try JobRequest(kind: kind, argumentsJSON: argumentsJSON, queue: queue).validateForEnqueue()
        } catch let error as JobQueueError {
            throw CommandError.usage("--kind/--args/--queue: \(error)", command: arguments.commandName)
        }
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        let request = JobRequest(kind: kind, argumentsJSON: argumentsJSON, queue: queue)
        var remaining = count
        while remaining > 0 {
            let size = min(batch, remaining)
            try connection.withTransaction { connection in
                _ = try connection.enqueue(Array(repeating: request, count: size))
            }
            remaining -= size
        }
        print("enqueued \(count) \(kind) jobs")
    }
}
