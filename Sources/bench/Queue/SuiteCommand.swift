import BenchSupport
import CommandLineInterface

/// `bench queue suite`: the engine's own broader benchmark against one server.
struct SuiteCommand: Command {
    static let name = "suite"
    static let summary = "enqueue, processing, latency, backlog and memory figures with pgbench references"
    static let options: [CommandOption] = [
        .flag("--quick"), .flag("--delete-completed"), .value("--jobs", "N", default: "20000"), .value("--single-jobs", "N"),
        .value("--repeat", "N", default: "3"), .value("--concurrency", "LIST", default: "1,4,16"),
        .value("--processes", "LIST", default: "2x4,4x4"), .value("--producers", "N", default: "4"),
        .value("--enqueue-batch", "N", default: "1000"), .value("--latency-samples", "N", default: "100"),
        .value("--latency-interval-ms", "N", default: "50"), .value("--latency-concurrency", "N", default: "4"),
        .value("--backlog-large", "N", default: "1000000"), .value("--backlog-measured", "N", default: "10000"),
        .value("--backlog-concurrency", "N", default: "4"), .value("--pgbench", "PATH"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: bench queue suite [OPTIONS]

        Measures, against one server in one run (in a scratch database it creates and drops):
          - bulk enqueue rate (producers × enqueue batch), beside pgbench inserting the same
            batches into a minimal table, and the same rows of constants into the engine's
            own job table (what its constraints and indexes allow at best), with what
            each spent per 1 000 jobs: server CPU, client CPU, WAL and wall time;
          - processing rate of no-op jobs with one worker in this process at each
            concurrency, and with several `bench queue work` processes;
          - beside each, pgbench claiming and completing jobs on a minimal table with the
            same number of connections, 1 job (k=1) and 10 jobs (k=10) per claim;
          - enqueue-to-start latency p50/p99 of single jobs on an idle worker;
          - processing rate of the first jobs of a large backlog vs. a small one;
          - worker process memory (VmHWM, VmRSS) after processing.
        Prints a table with medians (min–max) and the ratios to the references.

        Options:
          --quick                  CI-sized run (< 1 minute): 5000 jobs, 1 repetition,
                                   100 000-job backlog, one 2x4 process layout
          --delete-completed       the queue deletes its completed jobs (jobsctl queues
                                   completed default delete), as the harness's limit
                                   does; by default they are kept, the engine's default
          --jobs N                 jobs per processing run (default 20000)
          --single-jobs N          jobs per run at concurrency 1 and per pgbench k=1 run
                                   (default 4000)
          --repeat N               repetitions of the throughput runs (default 3)
          --concurrency LIST       in-process worker concurrencies (default 1,4,16)
          --processes LIST         worker-process layouts PxC (default 2x4,4x4; 1x16 compares a
                                   single worker process with the in-process run)
          --producers N            concurrent producers of the bulk enqueue (default 4)
          --enqueue-batch N        jobs per enqueue call (default 1000)
          --latency-samples N      single jobs for the latency (default 100; 0 skips)
          --latency-interval-ms N  gap between them (default 50)
          --latency-concurrency N  the idle worker's concurrency (default 4)
          --backlog-large N        jobs in the large backlog (default 1000000)
          --backlog-measured N     jobs processed from each backlog (default 10000)
          --backlog-concurrency N  worker concurrency for the backlog runs (default 4)
          --pgbench PATH           pgbench to use (default: PATH, /usr/lib/postgresql/*/bin)
        \(DatabaseOptions.help)
        """

    let options: SuiteOptions

    init(arguments: inout Arguments) throws {
        options = try SuiteOptions(arguments: &arguments)
    }

    func run() async throws {
        let results = try await Suite(options: options).run()
        Output.line(SuiteReport(options: options, results: results).text)
    }
}
