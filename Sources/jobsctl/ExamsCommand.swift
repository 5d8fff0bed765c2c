import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `jobsctl exams grade SUBMISSION [--as-of TIME]`, `jobsctl exams regrade EXAM [--as-of TIME]`
struct ExamsCommand: CommandGroup {
    static let name = "exams"
    static let summary = "training-exam grading"
    static let help = "Usage: jobsctl exams COMMAND [OPTIONS]"
    static let subcommands: [any CommandDescription.Type] = [ExamsGradeCommand.self, ExamsRegradeCommand.self]

    /// The options of both subcommands.
    static let subcommandOptions: [CommandOption] = [.value("--as-of", "TIME"), OutputFormat.option] + DatabaseOptions.options

    static let asOfHelp = """
          --as-of TIME         the moment the grading counts from instead of when it runs (graded
                               time, certification start), for a back-office re-run: ISO 8601
                               with a zone (2026-11-23T10:00:00+08:00)
        """

    static func asOf(_ arguments: inout Arguments) throws -> Date? {
        try arguments.time("--as-of")
    }

    static func id(_ text: String, what: String, command: String) throws -> Int64 {
        guard let id = Int64(text), id > 0 else {
            throw CommandError.usage("\(what) must be a positive whole number, got \"\(text)\"", command: command)
        }
        return id
    }
}

struct ExamsGradeCommand: Command {
    static let name = "grade"
    static let summary = "queue the grading of one submission"
    static let options = ExamsCommand.subcommandOptions
    static let help = """
        Usage: jobsctl exams grade SUBMISSION [--as-of TIME] [--json]

        Queues the grading of exam submission SUBMISSION (job \(GradeExamSubmission.kind), queue
        "\(JobRequest.defaultQueue)") and prints its job id. A submission is graded once: one already
        graded or rejected is left as it is. A pass grants or renews the certification for
        the exam's months, counted in the business time zone.

        Arguments:
          SUBMISSION           the submission's id, e.g. 42

        Options:
        \(ExamsCommand.asOfHelp)
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let request: JobRequest
    let format: OutputFormat
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        let submission = try ExamsCommand.id(try arguments.required("SUBMISSION (a submission id)"), what: "SUBMISSION", command: command)
        request = try JobRequest(GradeExamSubmission(submissionID: submission, asOf: try ExamsCommand.asOf(&arguments)))
        format = OutputFormat(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try await QueuedJob.enqueue(request, format: format, database: database)
    }
}

struct ExamsRegradeCommand: Command {
    static let name = "regrade"
    static let summary = "queue the regrading of every graded submission of an exam"
    static let options = ExamsCommand.subcommandOptions
    static let help = """
        Usage: jobsctl exams regrade EXAM [--as-of TIME] [--json]

        After an answer-key fix: queues the regrading of every graded submission of exam
        EXAM (job \(RegradeExam.kind), queue "\(JobRequest.defaultQueue)") and prints its job id. What
        changed is recorded per submission; new passes are certified, withdrawn passes lose
        the certification they granted.

        Arguments:
          EXAM                 the exam's id, e.g. 3

        Options:
        \(ExamsCommand.asOfHelp)
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let request: JobRequest
    let format: OutputFormat
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        let exam = try ExamsCommand.id(try arguments.required("EXAM (an exam id)"), what: "EXAM", command: command)
        request = try JobRequest(RegradeExam(examID: exam, asOf: try ExamsCommand.asOf(&arguments)))
        format = OutputFormat(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try await QueuedJob.enqueue(request, format: format, database: database)
    }
}
