import CleaningPlatform
import CommandLineInterface
import Foundation
import PostgresClient

/// `jobsctl summary --since TIME`: what the platform did since then.
struct SummaryCommand: Command {
    static let name = "summary"
    static let summary = "jobs, notifications, tiers, coupons, certifications, dispatch, quality decisions, SLA escalations, campaigns since a time"
    static let options: [CommandOption] = [.value("--since", "TIME"), OutputFormat.option] + ReadDatabaseOptions.options
    static let help = """
        Usage: jobsctl summary --since TIME [--json]

        Options:
          --since TIME         e.g. -1d: a delay back (-30s, -10m, -2h, -1d) or an ISO 8601
                               time with its zone (2026-11-23T10:00:00+08:00)
        \(OutputFormat.help)
        \(ReadDatabaseOptions.help)
        """

    let since: Date
    let format: OutputFormat
    let database: ReadDatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        guard let since = try arguments.time("--since", delaySign: "-") else {
            throw CommandError.usage("--since is required", command: command)
        }
        self.since = since
        format = OutputFormat(arguments: &arguments)
        database = try ReadDatabaseOptions(arguments: &arguments)
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
            dispatch started        \(summary.dispatch.started) orders
            dispatch matched        \(summary.dispatch.matched) in \(String(format: "%.2f", summary.dispatch.averageRounds)) rounds on average
            dispatch escalated      \(summary.dispatch.escalated)
            dispatch cancelled      \(summary.dispatch.cancelled)
            time to assignment      \(summary.dispatch.medianSecondsToAssignment.map { String(format: "%.1f s (median)", $0) } ?? "-")
            quality rewards         \(summary.qualityDecisions[QualityOutcome.reward.rawValue, default: 0])
            quality warnings        \(summary.qualityDecisions[QualityOutcome.warning.rawValue, default: 0])
            quality fines           \(summary.qualityDecisions[QualityOutcome.fine.rawValue, default: 0])
            suspensions             \(summary.qualityDecisions[QualityOutcome.suspension.rawValue, default: 0]) (\(summary.suspensionsEnded) ended)
            SLA escalations         \(summary.complaintEscalations)
            """)
        for campaign in summary.campaigns { print(campaign.line) }
    }
}
