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
/// input, works the default queue's no-op jobs until no job is available any more,
/// shuts down (running jobs finish, every outcome is written) and prints one JSON line
/// with the jobs it ran and its memory (VmHWM/VmRSS).
struct WorkCommand: Command {
    static let name = "work"
    static let summary = "one worker process for the suite's multi-process runs"
    static let options: [CommandOption] = [.value("--concurrency", "N", default: "4")] + DatabaseOptions.options
    static let help = """
        Usage: bench queue work [--concurrency N] [--database-url URL]

        A worker process for `bench queue suite`: prints "ready" once connected, starts on
        a line on standard input, works no-op jobs of queue "default" until none is
        available, then shuts down gracefully and prints
        {"handled": N, "vm_hwm_kib": K, "vm_rss_kib": K}.

        Options:
          --concurrency N      jobs run at once (default 4)
        \(DatabaseOptions.help)
        """

    let concurrency: Int
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        concurrency = try arguments.integer("--concurrency", in: 1...10_000) ?? 4
        database = try DatabaseOptions(arguments: &arguments)
    }

    /// How often the process looks at its progress (and, when there was none, asks the
    /// database whether any job is left to claim).
    static let emptyCheckInterval = Duration.milliseconds(10)

    func run() async throws {
        let counter = CompletionCounter(target: Int.max)
        let worker = try BenchWorker.make(
            configuration: database.configuration, concurrency: concurrency, handlers: BenchJobs.counting(counter))
        let monitor = PostgresSession(configuration: database.configuration, name: "empty-check")
        try await monitor.withConnection { _ = try $0.query("SELECT 1") }
        try await BenchWorker.warmUp(worker)

        Output.line("ready")
        let go = await BlockingCall.run("stdin") { () -> String? in
            var reader = LineReader(descriptor: 0)
            return reader.next()
        }
        guard go != nil else { throw CommandError.failed("standard input closed before the start signal") }

        let running = Task { try await worker.run() }
        // While jobs keep completing there is work left: the database is asked only
        // once a whole interval passed without progress, so the check costs nothing
        // while the queue drains and stops the process within ~2 intervals after.
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
            if !available { break }
        }
        worker.shutdown()
        try await running.value
        await monitor.disconnect()

        let memory = MemoryUsage.current()
        Output.line(
            "{\"handled\": \(counter.count), \"vm_hwm_kib\": \(memory?.peakKiB ?? -1), "
                + "\"vm_rss_kib\": \(memory?.residentKiB ?? -1)}")
    }
}
