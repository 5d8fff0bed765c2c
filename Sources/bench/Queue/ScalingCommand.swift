import BenchSupport
import CommandLineInterface

/// `bench queue scaling`: how throughput, start latency and the server's CPU per job
/// change with the number of worker processes on one server, draining a backlog and
/// under a producer running at the same time.
struct ScalingCommand: Command {
    static let name = "scaling"
    static let summary = "worker processes 1, 2, 4, 8: drain rate, and start latency under a concurrent producer"
    static let options: [CommandOption] = [
        .flag("--quick"), .value("--processes", "LIST", default: "1,2,4,8"), .value("--concurrency", "N", default: "4"),
        .value("--jobs", "N", default: "20000"), .value("--rate", "N", default: "2000"),
        .value("--seconds", "N", default: "10"), .value("--repeat", "N", default: "1"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: bench queue scaling [OPTIONS]

        For each number of `bench queue work` processes, against one server (in a scratch
        database it creates and drops):
          - drain: no-op jobs enqueued beforehand, processed until all are completed;
            jobs/s, and CPU per 1 000 jobs of the server (postmaster and all its children,
            when it runs on this machine) and of the worker processes;
          - mixed load: a producer enqueues no-op jobs at a fixed rate for a fixed time
            while the workers run; each job's enqueue-to-start wait (p50/p99) and the CPU
            per 1 000 jobs. The rate must stay under what the workers can drain, or the
            latency measures the backlog.
        Beside each: KiB of WAL the server wrote per 1 000 jobs. Every job must end `completed`
        exactly once (checked in the database), else the run fails.

        Options:
          --quick              CI-sized run (< 1 minute): 1,2 processes, 2000 jobs,
                               500 jobs/s for 3 s
          --processes LIST     worker process counts (default 1,2,4,8)
          --concurrency N      jobs each process runs at once (default 4)
          --jobs N             jobs of each drain run (default 20000)
          --rate N             the mixed run's producer rate in jobs/s (default 2000)
          --seconds N          how long the producer runs (default 10)
          --repeat N           repetitions of each run (default 1); the table shows
                               medians (min–max)
        \(DatabaseOptions.help)
        """

    let options: ScalingOptions

    init(arguments: inout Arguments) throws {
        options = try ScalingOptions(arguments: &arguments)
    }

    func run() async throws {
        let results = try await Scaling(options: options).run()
        Output.line(ScalingReport(options: options, results: results).text)
    }
}
