import CommandLineInterface

/// `bench`: every benchmark of the project, one subcommand each, on the shared
/// BenchSupport module (process spawning, CPU and load sampling, pgbench, scratch
/// database, settle step, formatting).
struct Bench: CommandGroup {
    static let name = "bench"
    static let summary = "benchmarks of the client, the queue engine and the platform's batch paths"
    static let help = """
        bench — benchmarks of the client, the queue engine and the platform's batch paths

        Usage: bench COMMAND [OPTIONS]
        Build it in release mode: swift build -c release --product bench
        """
    static let subcommands: [any CommandDescription.Type] = [
        ClientCommand.self, QueueCommands.self, PlatformCommand.self, BatchCommand.self, BloatCommand.self,
        ConsoleBenchCommand.self,
    ]
}
