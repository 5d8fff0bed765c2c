import CommandLineInterface

/// The admin CLI: migrations, enqueueing and managing jobs.
struct Jobsctl: CommandGroup {
    static let name = "jobsctl"
    static let summary = "administer the job queue"
    static let help = """
        jobsctl — administer the job queue and the platform's batch work

        Usage: jobsctl COMMAND [OPTIONS]
        """
    static let subcommands: [any CommandDescription.Type] = [
        MigrateCommand.self, EnqueueCommand.self, JobsCommand.self, QueuesCommand.self, StatsCommand.self,
        CronCommand.self, PayoutsCommand.self, SeedCommand.self, WaitCommand.self, SummaryCommand.self,
        OrdersCommand.self, TiersCommand.self, ExamsCommand.self, DispatchCommand.self, ConsoleCommand.self,
        ConsoleUserCommand.self, QualityCommand.self, ComplaintsCommand.self, CampaignsCommand.self,
    ]
}
