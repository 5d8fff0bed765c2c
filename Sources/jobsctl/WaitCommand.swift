import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient
#if canImport(Glibc)
import Glibc
#endif

/// `jobsctl wait`: waits until the given queues have drained, showing progress.
struct WaitCommand: Command {
    static let name = "wait"
    static let summary = "wait until queues have no runnable, running or soon-due work"
    static let options: [CommandOption] = [
        .value("--queues", "LIST"), .value("--due-within", "S", default: "90"), .value("--timeout", "S", default: "900"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl wait [--queues LIST] [--due-within SECONDS] [--timeout SECONDS]

        Shows per-queue counts while waiting: one updating line on a terminal, a plain
        line every few seconds otherwise. Exits 0 once nothing is available, running,
        waiting for a retry (however far off), pending (waiting for its dependencies),
        or scheduled within --due-within seconds (default 90); exits 1 on timeout.

        Options:
          --queues LIST        comma-separated queues (default: all)
          --due-within S       also wait for jobs scheduled that soon (default 90)
          --timeout S          give up after S seconds (default 900)
        \(DatabaseOptions.help)
        """

    let queues: [String]?
    let dueWithin: Duration
    let timeout: Duration
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        queues = try arguments.option("--queues").map { $0.split(separator: ",").map(String.init) }
        dueWithin = try arguments.seconds("--due-within", in: 0...366 * 86_400) ?? .seconds(90)
        timeout = try arguments.seconds("--timeout", in: 0...366 * 86_400) ?? .seconds(900)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        let terminal = OutputFormat.isTerminal
        let deadline = ContinuousClock.now + timeout
        var lastPrinted = Date.distantPast
        while true {
            let rows = try JobAdministration.progress(
                queues: queues, dueWithin: dueWithin, on: connection)
            let waiting = rows.reduce(0) { $0 + $1.waiting + $1.running }
            let line = rows.map { "\($0.queue) \($0.waiting) waiting/\($0.running) running/\($0.completed) done" }
                .joined(separator: " | ")
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
            guard ContinuousClock.now < deadline else {
                if terminal { print("") }
                throw CommandError.failed(
                    "queues still have \(waiting) jobs after \(timeout); are workers running? (jobsctl stats)")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}
