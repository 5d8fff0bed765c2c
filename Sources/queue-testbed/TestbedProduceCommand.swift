import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `queue-testbed produce`: a producer at a fixed rate that rides out a lost server
/// and records exactly which enqueues the database acknowledged — what a failover
/// test counts against the new primary.
struct TestbedProduceCommand: Command {
    static let name = "produce"
    static let summary = "enqueue jobs one by one at a fixed rate, recording each acknowledged one"
    static let options: [CommandOption] = [
        .value("--kind", "KIND"), .value("--count", "N", default: "1000"), .value("--rate", "N", default: "100"),
        .value("--queue", "Q", default: "default"), .value("--acknowledged", "PATH"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: queue-testbed produce --kind KIND --acknowledged PATH [--count N] [--rate N] [--queue Q]

        Enqueues job 1, 2, … N, each in its own transaction, with the unique key
        Q/NUMBER. Once the commit is acknowledged it appends "NUMBER JOB_ID UNIX_MS" to
        PATH. An enqueue that fails (server gone, standby not yet promoted) is not
        recorded and not retried: its outcome is unknown. The next one reconnects,
        trying every host of a multi-host URL.

        Options:
          --kind KIND          a kind from `queue-testbed --help`, e.g. testbed.effect
          --count N            enqueues to attempt (default 1000)
          --rate N             enqueues per second (default 100)
          --queue Q            queue (default "default")
          --acknowledged PATH  file to append the acknowledged enqueues to, e.g. /tmp/acknowledged
        \(DatabaseOptions.help)
        """

    let kind: String
    let count: Int
    let rate: Int
    let queue: String
    let acknowledgedPath: String
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        guard let kind = try arguments.option("--kind"), let path = try arguments.option("--acknowledged") else {
            throw CommandError.usage("--kind and --acknowledged are required", command: arguments.commandName)
        }
        self.kind = kind
        acknowledgedPath = path
        count = try arguments.integer("--count", in: 1...100_000_000) ?? 1000
        rate = try arguments.integer("--rate", in: 1...100_000) ?? 100
        queue = try arguments.option("--queue") ?? JobRequest.defaultQueue
        do {
            try JobRequest(kind: kind, queue: queue).validateForEnqueue()
        } catch let error as JobQueueError {
            throw CommandError.usage("--kind/--queue: \(error)", command: arguments.commandName)
        }
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        guard FileManager.default.createFile(atPath: acknowledgedPath, contents: nil),
            let file = FileHandle(forWritingAtPath: acknowledgedPath)
        else {
            throw CommandError.failed("cannot write \(acknowledgedPath); choose a writable path for --acknowledged")
        }
        let client = JobQueueClient(database: PostgresPool(configuration: database.configuration, maxConnections: 1))
        let interval = Duration.seconds(1) / rate
        let clock = ContinuousClock()
        var next = clock.now
        var failed = 0
        for number in 1...count {
            next += interval
            do {
                let result = try await client.enqueue(JobRequest(kind: kind, queue: queue, uniqueKey: "\(queue)/\(number)"))
                let unixMs = Int64(Date().timeIntervalSince1970 * 1000)
                file.write(Data("\(number) \(result.id) \(unixMs)\n".utf8))
            } catch let error as PostgresError where error.isConnectionProblem || error.sqlState == "25006" {
                failed += 1
            }
            try await clock.sleep(until: max(next, clock.now))
        }
        print("produced \(count - failed) of \(count) \(kind) jobs (\(failed) failed)")
    }
}
