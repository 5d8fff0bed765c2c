import BenchSupport
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `bench queue work`: one worker process of a multi-process measurement. It builds
/// its worker and opens its connections, prints `ready`, waits for a line on standard
/// input, works the default queue's no-op jobs until no job is available any more (or,
/// with `--until-stopped`, until a second line arrives: a producer runs meanwhile),
/// shuts down (running jobs finish, every outcome is written) and prints one JSON line
/// with the jobs it ran and its memory (VmHWM/VmRSS), and with `--until-stopped` each
/// job's enqueue-to-start wait.
struct WorkCommand: Command {
    static let name = "work"
    static let summary = "one worker process for the suite's multi-process runs"
    static let options: [CommandOption] =
        [.value("--concurrency", "N", default: "4"), .flag("--until-stopped")] + DatabaseOptions.options
    static let help = """
        Usage: bench queue work [--concurrency N] [--until-stopped] [--database-url URL]

        A worker process for `bench queue suite` and `bench queue scaling`: prints "ready"
        once connected, starts on a line on standard input, works no-op jobs of queue
        "default" until none is available, then shuts down gracefully and prints
        {"handled": N, "vm_hwm_kib": K, "vm_rss_kib": K}.

        Options:
          --concurrency N      jobs run at once (default 4)
          --until-stopped      work until a second line on standard input instead of until
                               the queue is empty (a producer is running), and add each
                               job's enqueue-to-start wait to the report ("latencies_us")
        \(DatabaseOptions.help)
        """

    let concurrency: Int
    let untilStopped: Bool
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        concurrency = try arguments.integer("--concurrency", in: 1...10_000) ?? 4
        untilStopped = arguments.flag("--until-stopped")
        database = try DatabaseOptions(arguments: &arguments)
    }

    /// How often the process looks at its progress (and, when there was none, asks the
    /// database whether any job is left to claim).
    static let emptyCheckInterval = Duration.milliseconds(10)

    func run() async throws {
        let counter = CompletionCounter(target: Int.max)
        let latencies = StartLatencies()
        let worker = try BenchWorker.make(
            configuration: database.configuration, concurrency: concurrency,
            handlers: untilStopped ? BenchJobs.timing(counter, latencies) : BenchJobs.counting(counter))
        let monitor = PostgresSession(configuration: database.configuration, name: "empty-check")
        try await monitor.withConnection { _ = try $0.query("SELECT 1") }
        try await BenchWorker.warmUp(worker)

        Output.line("ready")
        var input = LineReader(descriptor: 0)
        guard await Self.nextLine(&input) != nil else {
            throw CommandError.failed("standard input closed before the start signal")
        }

        let running = Task { try await worker.run() }
        if untilStopped {
            // The stop line, or the parent's end (EOF): either way the run is over.
            _ = await Self.nextLine(&input)
        } else {
            try await waitUntilEmpty(counter: counter, monitor: monitor)
        }
        worker.shutdown()
        try await running.value
        await monitor.disconnect()

        let memory = MemoryUsage.current()
        var report =
            "{\"handled\": \(counter.count), \"vm_hwm_kib\": \(memory?.peakKiB ?? -1), "
            + "\"vm_rss_kib\": \(memory?.residentKiB ?? -1)"
        if untilStopped {
            report += ", \"latencies_us\": [" + latencies.microseconds.map(String.init).joined(separator: ",") + "]"
        }
        Output.line(report + "}")
    }

    /// While jobs keep completing there is work left: the database is asked only once
    /// a whole interval passed without progress, so the check costs nothing while the
    /// queue drains and stops the process within ~2 intervals after.
    private func waitUntilEmpty(counter: CompletionCounter, monitor: PostgresSession) async throws {
        var seen = -1
        while true {
            try await Task.sleep(for: Self.emptyCheckInterval)
            let handled = counter.count
            if handled != seen {
                seen = handled
                continue
            }
            let available = try await monitor.withConnection { connection in
                try JobCounts.byState(queue: JobRequest.defaultQueue, on: connection)[.available] != nil
            }
            if !available { return }
        }
    }

    /// The next line of standard input, read off the cooperative pool.
    private static func nextLine(_ reader: inout LineReader) async -> String? {
        let current = reader
        let (line, advanced) = await BlockingCall.run("stdin") { () -> (String?, LineReader) in
            var reader = current
            let line = reader.next()
            return (line, reader)
        }
        reader = advanced
        return line
    }
}
