import CleaningPlatform
import DemoData
import CommandLineInterface
import Foundation
import PostgresClient

/// `jobsctl seed`: loads the demo data set.
struct SeedCommand: Command {
    static let name = "seed"
    static let summary = "load a realistic demo data set (deterministic from a seed)"
    static let options: [CommandOption] = [
        .value("--customers", "N", default: "2000"), .value("--cleaners", "N", default: "150"),
        .value("--orders", "N", default: "10000"), .value("--seed", "N", default: "20261123"), .value("--now", "TIME"), .flag("--force"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl seed [--customers N] [--cleaners N] [--orders N] [--seed N] [--now TIME] [--force]

        Loads customers, cleaners with skills and service areas in Shanghai, orders over
        the last 90 days and the next 7 (with their reminders), reviews, complaints,
        coupons, points, exams and submissions, with COPY. The same seed gives the same
        data. If customers exist already it does nothing unless --force is given.

        Options:
          --customers N        default 2000
          --cleaners N         default 150
          --orders N           default 10000
          --seed N             default 20261123
          --now TIME           the moment the data is placed around (ISO 8601 with a zone,
                               e.g. 2026-11-23T10:00:00+08:00; default: now). Two loads with
                               the same seed and the same --now hold the same rows, to the
                               second: scripts/check-run.sh --citus compares two such runs.
          --force              load another set even if data exists
        \(DatabaseOptions.help)
        """

    let dataSet: DemoDataSet
    let force: Bool
    /// The data set's "now"; nil loads around the moment of loading.
    let moment: Date?
    let zone: TimeZone
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        func count(_ name: String, _ fallback: Int, minimum: Int) throws -> Int {
            try arguments.integer(name, in: minimum...50_000_000) ?? fallback
        }
        dataSet = DemoDataSet(
            customers: try count("--customers", 2_000, minimum: 1), cleaners: try count("--cleaners", 150, minimum: 1),
            orders: try count("--orders", 10_000, minimum: 0),
            seed: UInt64(try count("--seed", 20_261_123, minimum: 0)))
        moment = try arguments.time("--now")
        force = arguments.flag("--force")
        do {
            zone = try BusinessTimeZone.fromEnvironment()
        } catch {
            throw CommandError.failed("\(error)")
        }
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let connection = try BusinessZoneConnection.connect(database.configuration, countingIn: zone)
        let existing = try connection.query("SELECT count(*)::int8 FROM platform.customers").scalar(Int64.self)
        if existing > 0 && !force {
            print("data already loaded (\(existing) customers); nothing to do (--force loads another set)")
            return
        }
        let started = Date()
        let loaded = try dataSet.load(now: moment ?? Date(), timeZone: zone, on: connection)
        try connection.executeScript("ANALYZE")
        print("""
            loaded in \(String(format: "%.1f", Date().timeIntervalSince(started)))s: \(loaded.customers) customers, \
            \(loaded.cleaners) cleaners, \(loaded.orders) orders (\(loaded.completedOrders) completed), \
            \(loaded.reviews) reviews, \(loaded.complaints) complaints, \(loaded.coupons) coupons, \
            \(loaded.submissions) exam submissions, \(loaded.reminders) reminders scheduled
            """)
    }
}
