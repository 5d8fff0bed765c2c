import BenchSupport
import CommandLineInterface

/// `bench queue`: measures the queue engine — as an adapter of the side-by-side job-queue
/// harness, as a broader suite against one server, and as the worker child process the
/// suite spawns for its multi-process runs.
struct QueueCommands: CommandGroup {
    static let name = "queue"
    static let summary = "benchmarks of the queue engine"
    static let help = """
        bench queue — benchmarks of the queue engine (enqueue, processing, latency, backlog, memory,
        PgBouncer)

        Usage: bench queue COMMAND [OPTIONS]
        """
    static let subcommands: [any CommandDescription.Type] = [
        AdapterCommand.self, SuiteCommand.self, ScalingCommand.self, WorkCommand.self, PoolingCommand.self,
    ]
}
