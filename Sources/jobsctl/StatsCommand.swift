import CommandLineInterface

/// `jobsctl stats [queues|platform]`: the queue's figures (the default) and the platform's rollups.
struct StatsCommand: CommandGroup {
    static let name = "stats"
    static let summary = "queue figures (default) and the platform's daily statistics"
    static let help = """
        Usage: jobsctl stats [queues] [--json] [--watch [SECONDS]]
               jobsctl stats platform --from DAY --to DAY [--csv FILE] [--json]
               jobsctl stats rollup [--day DAY]...
        """
    static let subcommands: [any CommandDescription.Type] = [
        QueueStatsCommand.self, PlatformStatsCommand.self, StatsRollupCommand.self,
    ]
    static let defaultCommand: (any Command.Type)? = QueueStatsCommand.self
}
