import CommandLineInterface
import Foundation
import PostgresClient
#if canImport(Glibc)
import Glibc
#endif

/// `jobsctl wait`: waits until the given queues have drained, showing progress.
struct WaitCommand: Command {
    static let name = "wait"
    static let summary = "wait until queues have no runnable, running or soon-due work"
    static let help = """
        Usage: jobsctl wait [--queues LIST] [--due-within SECONDS] [--timeout SECONDS]

        Shows per-queue counts while waiting: one updating line on a terminal, a plain
        line every few seconds otherwise. Exits 0 once nothing is available, running,
        pending (waiting for its dependencies), or scheduled or due for a retry within
        --due-within seconds (default 90); exits 1 on timeout.

        Options:
          --queues LIST        comma-separated queues (default: all)
          --due-within S       also wait for jobs scheduled that soon (default 90)
          --timeout S          give up after S seconds (default 900)
        \(DatabaseOptions.help)
        """

    let queues: [String]?
    let dueWithin: Double
    let timeout: Double
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        queues = try arguments.option("--queues").map { $0.split(separator: ",").map(String.init) }
        dueWithin = try arguments.option("--due-within", as: Double.self) ?? 90
        timeout = try arguments.option("--timeout", as: Double.self) ?? 900
        database = try DatabaseOptions(arguments: &arguments, applicationName: "jobsctl")
    }

    static let progress = """
        SELECT queue,
               count(*) FILTER (WHERE state IN ('available', 'pending')
                                OR (state IN ('scheduled', 'retryable') AND run_at <= now() + $2 * interval '1 second'))::int8,
               count(*) FILTER (WHERE state = 'running')::int8,
               count(*) FILTER (WHERE state = 'completed')::int8
        FROM queue.jobs
        WHERE ($1::text[] IS NULL OR queue = ANY($1::text[])) AND (state <> 'completed' OR finalized_at > now() - interval '1 hour')
        GROUP BY queue ORDER BY queue
        """

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        let terminal = OutputFormat.isTerminal
        let deadline = Date().addingTimeInterval(timeout)
        var lastPrinted = Date.distantPast
        while true {
            let rows = try connection.query(Self.progress, [queues, dueWithin]).rows.map {
                try $0.decode((String, Int64, Int64, Int64).self)
            }
            let waiting = rows.reduce(0) { $0 + $1.1 + $1.2 }
            let line = rows.map { "\($0.0) \($0.1) waiting/\($0.2) running/\($0.3) done" }.joined(separator: " | ")
            if terminal {
                print("\r\u{1B}[K" + line, terminator: "")
                fflush(nil)  // all streams: the C `stdout` global is not concurrency-safe in Swift 6
            } else if Date().timeIntervalSince(lastPrinted) >= 3 || waiting == 0 {
                print(line)
                lastPrinted = Date()
            }
            if waiting == 0 {
                if terminal { print("") }
                return
            }
            guard Date() < deadline else {
                if terminal { print("") }
                throw CommandError.failed(
                    "queues still have \(waiting) jobs after \(Int(timeout))s; are workers running? (jobsctl stats)")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}
