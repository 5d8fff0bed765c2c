import CleaningPlatform
import CommandLineInterface
import Foundation
import PostgresClient

/// `jobsctl payouts run --period 2026-W47 [--dry-run]`
struct PayoutsCommand: CommandGroup {
    static let name = "payouts"
    static let summary = "settlement payout runs for finance"
    static let help = "Usage: jobsctl payouts COMMAND [OPTIONS]"
    static let subcommands: [any CommandDescription.Type] = [PayoutsRunCommand.self, PayoutsAuditCommand.self]
}

struct PayoutsRunCommand: Command {
    static let name = "run"
    static let summary = "settle and pay every cleaner for a week, write the CSV report"
    static let options: [CommandOption] = [
        .value("--period", "YYYY-Www"), .flag("--dry-run"), .value("--report", "PATH"),
        .value("--wait", "SECONDS", default: "600"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl payouts run --period YYYY-Www [--dry-run] [--report PATH] [--wait SECONDS]

        Settles every completed, unsettled order of the ISO week (Monday 00:00 to
        Monday 00:00, business time zone) per cleaner: gross, commission by level,
        bonuses and penalties, net; posts the double-entry ledger, marks the orders
        settled and pays each cleaner once (one job per cleaner, run by the workers
        on queue "payouts"). Safe to run again, or twice at once: nobody is paid
        twice and nobody is skipped. Waits for the run, then writes the report.
        Every cleaner whose balance moves has a line, including one who only
        carries a receivable (an earlier negative net) through the week.
        Refunded orders are settled and counted like any other completed order;
        each adds what was paid minus what was refunded to gross (a fully
        refunded order adds 0), and commission is taken on that amount.
        A transfer the payout gateway refuses for good (or a cleaner whose job ran
        out of retries) ends the wait with the reason; that cleaner's line stays
        settled and unpaid until the job is retried (`jobsctl jobs retry`).

        Options:
          --period YYYY-Www    the ISO week, e.g. 2026-W47
          --dry-run            print the report; write nothing. For a period already run,
                               the run's recorded lines (and any a new start would add)
          --report PATH        CSV report path (default: payouts-PERIOD.csv; dry run: standard output)
          --wait SECONDS       how long to wait for the workers (default 600)
        \(DatabaseOptions.help)
        """

    let period: PayoutPeriod
    let zone: TimeZone
    let dryRun: Bool
    let reportPath: String?
    let wait: Duration
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        (period, zone) = try PayoutPeriod.required(&arguments)
        dryRun = arguments.flag("--dry-run")
        reportPath = try arguments.option("--report")
        if let path = reportPath ?? (dryRun ? nil : Self.defaultReportPath(period)) {
            try OutputFilePath.check(path, option: "--report", command: command)
        }
        wait = try arguments.seconds("--wait", in: 0...7 * 86_400) ?? .seconds(600)
        database = try DatabaseOptions(arguments: &arguments)
    }

    static func defaultReportPath(_ period: PayoutPeriod) -> String { "payouts-\(period.name).csv" }

    func run() async throws {
        let connection = try BusinessZoneConnection.connect(database.configuration, countingIn: zone)
        let lines: [PayoutLine]
        if dryRun {
            let dry = try PayoutRun.dryRun(period, on: connection)
            lines = dry.lines
            switch dry.run {
            case nil:
                print("DRY RUN — nothing was written; what a payout run for \(period) would settle:")
            case let run? where dry.alreadyComplete:
                print("DRY RUN — nothing was written; payout run \(run.id) for \(period) is already complete, "
                    + "running it again changes nothing; its recorded figures:")
            case let run?:
                print("DRY RUN — nothing was written; payout run \(run.id) for \(period) "
                    + "\(run.completed ? "is complete" : "is in progress") with \(dry.recorded.count) lines recorded; "
                    + "running it now adds \(dry.added.count) lines; recorded and added lines:")
            }
        } else {
            let started = try PayoutRun.start(period, on: connection)
            print(started.alreadyComplete
                ? "payout run \(started.runID) for \(period) is already complete"
                : "payout run \(started.runID) for \(period): \(started.cleanerJobs) cleaner settlement jobs queued")
            let deadline = ContinuousClock.now + wait
            while try !PayoutRun.isComplete(started.runID, on: connection) {
                let failures = try PayoutRun.failures(started.runID, on: connection)
                guard failures.isEmpty else {
                    throw CommandError.failed(
                        "payout run \(started.runID): \(failures.count) cleaner(s) not paid:\n"
                            + failures.map { "  cleaner \($0.cleanerID): \($0.reason)\n" }.joined()
                            + "Fix the cause, then `jobsctl jobs retry --discarded --kind \(SettleCleanerPayout.kind)` "
                            + "(it pays with the same idempotency key) and run this command again")
                }
                guard ContinuousClock.now < deadline else {
                    throw CommandError.failed(
                        "payout run \(started.runID) is still in progress after \(wait); are workers running on "
                            + "queue \"payouts\"? Check `jobsctl jobs list --queue payouts`, then run this command again "
                            + "(it continues the same run)")
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            lines = try PayoutRun.lines(started.runID, on: connection)
        }
        let csv = PayoutReport.csv(lines)
        let totals = PayoutReport.Totals(lines)
        print("""
            period \(period.name): \(totals.cleaners) cleaners, \(totals.orders) settled orders (refunded ones included)
              gross \(PayoutReport.yuan(totals.gross))  commission \(PayoutReport.yuan(totals.commission))  \
            bonuses \(PayoutReport.yuan(totals.bonus))  penalties \(PayoutReport.yuan(totals.penalty))
              net \(PayoutReport.yuan(totals.net))  paid \(PayoutReport.yuan(totals.paid))  \
            carried to next period \(PayoutReport.yuan(totals.carryOut))
            """)
        if dryRun && reportPath == nil {
            print(csv, terminator: "")
            return
        }
        let path = reportPath ?? Self.defaultReportPath(period)
        do {
            try csv.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CommandError.failed("cannot write the report to \(path): \(error.localizedDescription)")
        }
        print("report: \(path)")
    }
}
