import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `jobsctl enqueue KIND --args JSON …`
struct EnqueueCommand: Command {
    static let name = "enqueue"
    static let summary = "enqueue one job"
    static let options: [CommandOption] = [
        .value("--args", "JSON", default: "{}"), .value("--args-file", "PATH"), .value("--queue", "Q", default: "default"),
        .value("--priority", "N", default: "0"), .value("--run-at", "TIME"), .value("--unique-key", "KEY"),
        .value("--unique-scope", "S", default: "active"), .value("--max-attempts", "N", default: "20"),
        .value("--tag", "TAG"), OutputFormat.option,
    ] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl enqueue KIND [--args JSON | --args-file PATH] [--queue Q] [--priority N] [--run-at TIME]
                               [--unique-key KEY] [--max-attempts N] [--tag TAG]... [--json]

        Enqueues one job and prints its id; with a unique key that is already taken,
        prints the existing job's id instead. The arguments are checked as the kind's
        handler reads them: required fields, types and ranges; unknown fields and, for
        a kind without arguments, anything but {} are refused (exit 64).

        Options:
          KIND                 the job's kind, e.g. \(PlatformJobs.kinds[0]); one of:
                               \(PlatformJobs.kinds.joined(separator: ", "))
          --args JSON          the job's arguments (default {})
          --args-file PATH     read the arguments from a file (- for standard input)
          --queue Q            queue (default: default)
          --priority N         0 (most urgent, the default) to 32767
          --run-at TIME        ISO 8601 time (2026-11-23T10:00:00+08:00) or a delay: +30s, +10m, +2h, +1d
          --unique-key KEY     at most one unfinished job with this key
          --unique-scope S     active (default: while unfinished) or always (until the job is pruned)
          --max-attempts N     attempts before it is discarded (default 20)
          --tag TAG            repeatable
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let request: JobRequest
    let format: OutputFormat
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        let kind = try arguments.required("KIND (one of: \(Self.knownKinds.joined(separator: ", ")))")
        guard Self.knownKinds.contains(kind) else {
            throw CommandError.usage(
                "unknown kind \"\(kind)\"; known kinds: \(Self.knownKinds.joined(separator: ", "))", command: command)
        }
        var json = try arguments.option("--args") ?? "{}"
        if let path = try arguments.option("--args-file") {
            do {
                json = try TextFile.read(path, what: "--args-file")
            } catch {
                throw CommandError.usage("\(error)", command: command)
            }
        }
        guard let data = json.data(using: .utf8),
            (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil
        else {
            throw CommandError.usage("--args is not valid JSON: \(json.prefix(80))", command: command)
        }
        let runAt = try arguments.time("--run-at", delaySign: "+")
        var request = JobRequest(
            kind: kind, argumentsJSON: json, queue: try arguments.option("--queue") ?? JobRequest.defaultQueue,
            priority: try arguments.integer("--priority", in: 0...Int(Int16.max)) ?? 0, runAt: runAt,
            maxAttempts: try arguments.integer("--max-attempts", in: 1...Int(Int32.max)) ?? JobRequest.defaultMaxAttempts,
            tags: try arguments.options("--tag"), uniqueKey: try arguments.option("--unique-key"))
        if let scope = try arguments.option("--unique-scope") {
            guard let parsed = UniqueScope(rawValue: scope) else {
                throw CommandError.usage("--unique-scope must be active or always", command: command)
            }
            request.uniqueScope = parsed
        }
        do {
            try request.validateForEnqueue()
        } catch let error as JobQueueError {
            throw CommandError.usage("\(error)", command: command)
        }
        do {
            try PlatformJobs.catalogue.validate(request)
        } catch {
            throw CommandError.usage("--args refused: \(error)", command: command)
        }
        self.request = request
        format = OutputFormat(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    static var knownKinds: [String] { PlatformJobs.catalogue.kinds }

    func run() async throws {
        let pool = PostgresPool(configuration: database.configuration, maxConnections: 1)
        let result: EnqueueResult
        do {
            result = try await JobQueueClient(database: pool).enqueue(request)
        } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
            // Data exceptions: the only free-form value the server parses itself is the JSON.
            throw CommandError.usage("--args was refused by the database: \(error.message)", command: "jobsctl enqueue")
        }
        switch format {
        case .json:
            struct Output: Encodable { var id: Int64; var inserted: Bool }
            print(try OutputFormat.json(Output(id: result.id, inserted: result.inserted)))
        case .table:
            if result.inserted {
                print(result.id)
            } else {
                print(result.id)
                CommandRunner.writeError("note: job \(result.id) already holds unique key \"\(request.uniqueKey ?? "")\"")
            }
        }
    }
}
