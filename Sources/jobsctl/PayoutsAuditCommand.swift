import CleaningPlatform
import CommandLineInterface
import Foundation
import PostgresClient

/// `jobsctl payouts audit --period 2026-W47 [--report FILE]...`
struct PayoutsAuditCommand: Command {
    static let name = "audit"
    static let summary = "check a week's payout run against the orders and the ledger"
    static let options: [CommandOption] = [.value("--period", "YYYY-Www"), .value("--report", "PATH")]
        + ReadDatabaseOptions.options
    static let help = """
        Usage: jobsctl payouts audit --period YYYY-Www [--report PATH]...

        Recomputes the week's lines from the orders, reviews, complaints and rules
        (apart from the settlement code) and checks the run against them and the
        ledger: every ledger transaction balances; each line is settled once and, when
        it has something to pay, paid once with exactly that amount and the provider's
        reference; every completed order of the week is settled once by a line of its
        cleaner; the given CSV reports equal the run's report. Prints one line of
        figures, then PASS or FAIL and a "failure:" line per broken rule; exits 0 on
        PASS, 1 on FAIL. Changes nothing.

        Options:
          --period YYYY-Www    the ISO week, e.g. 2026-W47
          --report PATH        a CSV report of the run to compare (repeatable)
        \(ReadDatabaseOptions.help)
        """

    let period: PayoutPeriod
    let zone: TimeZone
    let reports: [String]
    let database: ReadDatabaseOptions

    init(arguments: inout Arguments) throws {
        (period, zone) = try PayoutPeriod.required(&arguments)
        reports = try arguments.options("--report")
        database = try ReadDatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let connection = try BusinessZoneConnection.connect(database.configuration, countingIn: zone)
        let audit = try PayoutRunAudit.of(period, reports: reports, on: connection)
        let failures = audit.failures
        print(
            "period=\(period.name) status=\(audit.status) items=\(audit.lines) expected=\(audit.expectedLines) "
                + "due_orders=\(audit.dueOrders) "
                + "paid_once=\(audit.paidOnceLines) settled_once=\(audit.ordersSettledOnce) "
                + "unbalanced=\(audit.unbalancedTransactions) double_paid=\(audit.extraPayouts) "
                + "skipped=\(audit.skippedCleaners + audit.unsettledOrders) paid_fen=\(audit.paidFen) "
                + (failures.isEmpty ? "PASS" : "FAIL"))
        for failure in failures { print("  failure: \(failure)") }
        if !failures.isEmpty { throw CommandError.failed("the payout run of \(period.name) failed \(failures.count) check(s)") }
    }
}
