import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `jobsctl quality score [--period YYYY-Www]`, `jobsctl quality decisions --period YYYY-Www`
struct QualityCommand: CommandGroup {
    static let name = "quality"
    static let summary = "service quality: weekly scores, rewards, warnings, fines, suspensions"
    static let help = "Usage: jobsctl quality COMMAND [OPTIONS]"
    static let subcommands: [any CommandDescription.Type] = [QualityScoreCommand.self, QualityDecisionsCommand.self]
}

struct QualityScoreCommand: Command {
    static let name = "score"
    static let summary = "queue the scoring of an ISO week (a week already scored decides nothing again)"
    static let options: [CommandOption] = [.value("--period", "YYYY-Www", default: "last week"), OutputFormat.option]
        + DatabaseOptions.options
    static let help = """
        Usage: jobsctl quality score [--period YYYY-Www] [--json]

        Queues the service-quality run for a week (job \(ScoreServiceQuality.kind), queue
        "\(PlatformJobs.maintenanceQueue)") and prints its job id; the cron runs it every Monday
        03:00 for the week before. Every active cleaner is scored from the ratings, upheld
        complaints and late starts of the window before the week's end; the thresholds in
        platform.quality_rules decide a reward (paid by the next payout run), a warning, a
        fine (deducted by the next payout run) or a suspension (out of dispatch until it
        ends or a re-certification exam is passed). One decision per cleaner and week.

        Options:
          --period YYYY-Www    the ISO week, e.g. 2026-W47 (default: last week, business time zone)
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let request: JobRequest
    let format: OutputFormat
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        let period = try arguments.option("--period")
        if let period, (try? PayoutPeriod(period, timeZone: BusinessCalendar.default.timeZone)) == nil {
            throw CommandError.usage("--period \"\(period)\" is not an ISO week like 2026-W47 (weeks 01–53)", command: command)
        }
        request = try JobRequest(ScoreServiceQuality(period: period), queue: PlatformJobs.maintenanceQueue)
        format = OutputFormat(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try await QueuedJob.enqueue(request, format: format, database: database)
    }
}

struct QualityDecisionsCommand: Command {
    static let name = "decisions"
    static let summary = "a week's decisions: counts per outcome and the cleaners rewarded, warned, fined or suspended"
    static let options: [CommandOption] = [.value("--period", "YYYY-Www"), OutputFormat.option] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl quality decisions --period YYYY-Www [--json]

        The decisions of a scored week: how many cleaners got each outcome, then every
        cleaner with an outcome other than none, with the score, the money and the inputs
        it was decided from.

        Options:
          --period YYYY-Www    the ISO week, e.g. 2026-W47
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let period: PayoutPeriod
    let format: OutputFormat
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        period = try PayoutPeriod.required(&arguments).period
        format = OutputFormat(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    struct Decision: Encodable {
        var cleanerID: Int64
        var score: Int
        var outcome: String
        var bonusFen: Int64
        var fineFen: Int64
        var inputs: String
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        let decisions = try connection.query(
            """
            SELECT cleaner_id, score, outcome, bonus_fen, fine_fen, (inputs - 'rules')::text
            FROM platform.quality_decisions WHERE period = $1 AND outcome <> $2 ORDER BY score, cleaner_id
            """, [period.name, QualityOutcome.none.rawValue]
        ).rows.map { row in
            let (cleaner, score, outcome, bonus, fine, inputs) = try row.decode((Int64, Int32, String, Int64, Int64, String).self)
            return Decision(cleanerID: cleaner, score: Int(score), outcome: outcome, bonusFen: bonus, fineFen: fine, inputs: inputs)
        }
        let counts = Dictionary(uniqueKeysWithValues: try connection.query(
            "SELECT outcome, count(*)::int8 FROM platform.quality_decisions WHERE period = $1 GROUP BY outcome", [period.name]
        ).rows.map { try $0.decode((String, Int64).self) })
        if format == .json {
            struct Output: Encodable { var period: String; var counts: [String: Int64]; var decisions: [Decision] }
            print(try OutputFormat.json(Output(period: period.name, counts: counts, decisions: decisions)))
            return
        }
        guard !counts.isEmpty else {
            print("no decisions for \(period.name) yet; `jobsctl quality score --period \(period.name)` queues them")
            return
        }
        print(
            "\(period.name): " + QualityOutcome.allCases.map { "\($0.rawValue) \(counts[$0.rawValue, default: 0])" }
                .joined(separator: ", "))
        var table = TextTable(["cleaner", "score", "outcome", "bonus", "fine", "inputs"])
        for decision in decisions {
            table.append([
                "\(decision.cleanerID)", "\(decision.score)", decision.outcome, PayoutReport.yuan(decision.bonusFen),
                PayoutReport.yuan(decision.fineFen), decision.inputs,
            ])
        }
        if !decisions.isEmpty { print(table.render()) }
    }
}
