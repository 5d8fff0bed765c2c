import CleaningPlatform
import CommandLineInterface
import Foundation
import PostgresClient

/// `jobsctl summary --since TIME`: what the platform did since then.
struct SummaryCommand: Command {
    static let name = "summary"
    static let summary = "jobs, notifications, tiers, coupons, certifications since a time"
    static let options: [CommandOption] = [.value("--since", "TIME"), OutputFormat.option] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl summary --since TIME [--json]

        Options:
          --since TIME         ISO 8601 (2026-11-23T10:00:00+08:00) or a delay back: -10m, -2h, -1d
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let since: Date
    let format: OutputFormat
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        guard let text = try arguments.option("--since") else {
            throw CommandError.usage("--since is required", command: command)
        }
        if text.hasPrefix("-") {
            let ahead = try EnqueueCommand.parseTime("+" + text.dropFirst(), option: "--since", command: command)
            since = Date().addingTimeInterval(-ahead.timeIntervalSinceNow)
        } else {
            since = try EnqueueCommand.parseTime(text, option: "--since", command: command)
        }
        format = OutputFormat(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments, applicationName: "jobsctl")
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        let summary = try PlatformSummary.since(since, on: connection)
        if format == .json {
            print(try OutputFormat.json(summary))
            return
        }
        var jobs = TextTable(["kind", "completed", "failed"])
        for kind in summary.jobs { jobs.append([kind.kind, "\(kind.completed)", "\(kind.failed)"]) }
        var notes = TextTable(["notifications", "reason", "count"])
        for note in summary.notifications { notes.append([note.status, note.reason.isEmpty ? "-" : note.reason, "\(note.count)"]) }
        print("""
            since \(DisplayFormat.date(since)):
            \(summary.jobs.isEmpty ? "no jobs finished" : jobs.render())

            \(summary.notifications.isEmpty ? "no notifications" : notes.render())

            tier changes            \(summary.tierChanges)
            coupons expired         \(summary.couponsExpired)
            coupon reminders        \(summary.couponRemindersQueued)
            points expired for      \(summary.pointsExpiredCustomers) customers
            exams graded            \(summary.submissionsGraded) (\(summary.submissionsRejected) rejected)
            certifications granted  \(summary.certificationsGranted)
            """)
    }
}
