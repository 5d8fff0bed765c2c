import CleaningPlatform
import CommandLineInterface
import Foundation
import PostgresClient

/// `jobsctl stats platform --from DAY --to DAY [--csv FILE] [--json]`
struct PlatformStatsCommand: Command {
    static let name = "platform"
    static let summary = "the platform's daily statistics (orders, customers, cleaners) for a range of days"
    static let options: [CommandOption] = [.value("--from", "DAY"), .value("--to", "DAY"), .value("--csv", "FILE"), OutputFormat.option]
        + DatabaseOptions.options
    static let help = """
        Usage: jobsctl stats platform --from DAY --to DAY [--csv FILE] [--json]

        Prints the statistics rollups, one line per business day (BUSINESS_TIME_ZONE,
        default Asia/Shanghai) from --from through --to: orders placed that day and
        how they stand now (completed, cancelled, GMV, paid, refunded, in fen);
        customers who joined, ordered, and ordered again; cleaners who completed
        orders that day, their service minutes, utilisation (of eight hours, in basis
        points), reviews, average rating (×100) and income after commission (fen).
        Figures are as of the last rollup (job \(RollUpStatistics.kind), every
        15 minutes; `jobsctl stats rollup` queues one now).

        Options:
          --from DAY           first day, YYYY-MM-DD, e.g. 2026-11-23
          --to DAY             last day, e.g. 2026-11-29 (at most 366 days from --from)
          --csv FILE           also write the lines as CSV to FILE ("-": standard output only)
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    static let longestRange = 366

    let from: BusinessDay
    let to: BusinessDay
    let csvPath: String?
    let format: OutputFormat
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = "jobsctl stats platform"
        func day(_ option: String) throws -> BusinessDay {
            guard let text = try arguments.option(option) else {
                throw CommandError.usage("\(option) DAY is required, e.g. \(option) 2026-11-23", command: command)
            }
            guard let day = BusinessDay(text) else {
                throw CommandError.usage("\(option) \"\(text)\" is not a day; write it as YYYY-MM-DD, e.g. 2026-11-23", command: command)
            }
            return day
        }
        from = try day("--from")
        to = try day("--to")
        guard from <= to else {
            throw CommandError.usage("--from \(from) is after --to \(to); give the earlier day first", command: command)
        }
        let span = from.days(to: to)
        guard span < Self.longestRange else {
            throw CommandError.usage("--from \(from) to --to \(to) is \(span + 1) days; ask for at most \(Self.longestRange)", command: command)
        }
        csvPath = try arguments.option("--csv")
        if let csvPath, csvPath != "-" { try OutputFilePath.check(csvPath, option: "--csv", command: command) }
        format = OutputFormat(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        let statistics = try PlatformStatistics.read(from: from, to: to, on: connection)
        if csvPath == "-" {
            print(statistics.csv, terminator: "")
            return
        }
        if let csvPath {
            try statistics.csv.write(toFile: csvPath, atomically: true, encoding: .utf8)
        }
        if format == .json {
            print(try OutputFormat.json(statistics))
        } else {
            var table = TextTable(PlatformStatistics.columns)
            for row in statistics.rows { table.append(row) }
            print(table.render())
        }
    }
}
