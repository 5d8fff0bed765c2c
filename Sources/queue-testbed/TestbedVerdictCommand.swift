import CommandLineInterface
import Foundation
import PostgresClient

/// `queue-testbed verdict`: judges a fault-injection run of testbed.effect jobs from
/// the database and the stalled workers' metrics (scripts/chaos.sh calls it).
struct TestbedVerdictCommand: Command {
    static let name = "verdict"
    static let summary = "judge a run of testbed.effect jobs: each effect once, none stuck, stale attempts fenced"
    static let help = """
        Usage: queue-testbed verdict --queue Q --jobs N [--held FILE] [--metrics FILE]...

        Reads the queue's job rows and effect rows and prints one line of figures,
        then PASS or FAIL, and a "failure:" line per broken rule; exits 0 on PASS,
        1 on FAIL. The rules: N job rows, all completed, each with exactly one
        effect row, none running, discarded or cancelled. With --held (the attempts
        stalled workers held, one "WORKER JOB_ID ATTEMPT" line each), at least one
        of them must have been stale (rescued, no effect of its own) and the
        stalled workers' metrics must count at least as many fenced outcomes.

        Options:
          --queue Q            the run's queue, e.g. chaos
          --jobs N             jobs enqueued on it, e.g. 1000
          --held FILE          attempts the stalled workers held when stopped
          --metrics FILE       a saved /metrics scrape of a stalled worker (repeatable)
        \(DatabaseOptions.help)
        """
    static let options: [CommandOption] = [
        .value("--queue", "Q"), .value("--jobs", "N"), .value("--held", "FILE"), .value("--metrics", "FILE"),
    ] + DatabaseOptions.options

    let queue: String
    let jobs: Int
    let heldPath: String?
    let metricsPaths: [String]
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        guard let queue = try arguments.option("--queue") else {
            throw CommandError.usage("--queue is required", command: command)
        }
        guard let jobs = try arguments.integer("--jobs", in: 0...100_000_000) else {
            throw CommandError.usage("--jobs N is required (the number enqueued)", command: command)
        }
        self.queue = queue
        self.jobs = jobs
        heldPath = try arguments.option("--held")
        metricsPaths = try arguments.options("--metrics")
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let held = try heldPath.map(Self.heldAttempts(path:))
        var fenced = 0
        for path in metricsPaths {
            fenced += FencedOutcomeCount.sum(inScrape: try Self.read(path))
        }
        let connection = try PostgresConnection.connect(database.configuration)
        let verdict = try EffectRunVerdict.measure(
            queue: queue, enqueued: jobs, held: held, fenced: fenced, on: connection)
        let failures = verdict.failures
        print(verdict.figures + (failures.isEmpty ? " PASS" : " FAIL"))
        for failure in failures { print("  failure: \(failure)") }
        if !failures.isEmpty { throw CommandError.failed("the run failed \(failures.count) rule(s)") }
    }

    private static func read(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CommandError.failed("cannot read \(path)")
        }
        return text
    }

    static func heldAttempts(path: String) throws -> [EffectRunVerdict.HeldAttempt] {
        try read(path).split(whereSeparator: \.isNewline).map { line in
            let words = line.split(separator: " ")
            guard words.count == 3, let id = Int64(words[1]), let attempt = Int32(words[2]) else {
                throw CommandError.failed("\(path): \"\(line)\" is not a WORKER JOB_ID ATTEMPT line")
            }
            return EffectRunVerdict.HeldAttempt(worker: String(words[0]), jobID: id, attempt: attempt)
        }
    }
}
