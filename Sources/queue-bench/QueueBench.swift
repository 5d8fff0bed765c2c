import CommandLineInterface

/// `queue-bench`: measures the queue engine — as an adapter of the side-by-side job-queue
/// harness, as a broader suite against one server, and as the worker child process the
/// suite spawns for its multi-process runs, and as a sustained load that watches the
/// job table's size.
struct QueueBench: CommandGroup {
    static let name = "queue-bench"
    static let summary = "benchmarks of the queue engine"
    static let help = """
        queue-bench — benchmarks of the queue engine (enqueue, processing, latency, backlog, memory,
        table bloat under sustained load)

        Usage: queue-bench COMMAND [OPTIONS]
        """
    static let subcommands: [any CommandDescription.Type] = [
        AdapterCommand.self, SuiteCommand.self, WorkCommand.self, BloatCommand.self,
    ]
}
