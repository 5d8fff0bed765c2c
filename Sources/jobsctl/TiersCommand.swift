import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `jobsctl tiers recalculate [--as-of TIME]`
struct TiersCommand: CommandGroup {
    static let name = "tiers"
    static let summary = "membership tiers"
    static let help = "Usage: jobsctl tiers COMMAND [OPTIONS]"
    static let subcommands: [any CommandDescription.Type] = [TiersRecalculateCommand.self]
}

struct TiersRecalculateCommand: Command {
    static let name = "recalculate"
    static let summary = "queue the full tier recalculation (upgrades and downgrades), optionally as of a past time"
    static let options: [CommandOption] = [.value("--as-of", "TIME"), OutputFormat.option] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl tiers recalculate [--as-of TIME] [--json]

        Queues the nightly recalculation of every member's growth value and tier
        (job \(RecalculateTiers.kind), queue "\(PlatformJobs.maintenanceQueue)") and prints its job id;
        a worker working that queue runs it (`jobsctl wait --queues \(PlatformJobs.maintenanceQueue)`).
        The growth window is the 12 months before the moment, in the business time zone
        (BUSINESS_TIME_ZONE, default Asia/Shanghai).

        Options:
          --as-of TIME         recalculate as at this moment instead of when it runs, for a
                               back-office re-run: ISO 8601 with a zone (2026-11-23T02:00:00+08:00)
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let request: JobRequest
    let format: OutputFormat
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let asOf = try arguments.time("--as-of")
        request = try JobRequest(RecalculateTiers(asOf: asOf), queue: PlatformJobs.maintenanceQueue)
        format = OutputFormat(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try await QueuedJob.enqueue(request, format: format, database: database)
    }
}
