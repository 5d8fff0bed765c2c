import Foundation
import PostgresClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What every command and command group shows in help.
public protocol CommandDescription: Sendable {
    /// The word that selects it, e.g. "migrate".
    static var name: String { get }
    /// One line for the parent command's list.
    static var summary: String { get }
    /// Full help: usage line, options, examples.
    static var help: String { get }
}

/// One command of a command-line tool. Small types, one per subcommand: each
/// parses its own arguments and carries its own help text.
public protocol Command: CommandDescription {
    /// Every option it accepts, for `--describe-json`; checked against the rows of `help`.
    static var options: [CommandOption] { get }
    init(arguments: inout Arguments) throws
    func run() async throws
}

extension Command {
    /// No options besides `--help`; a command with options declares them, or
    /// `--describe-json` refuses to describe it (its help lists undeclared options).
    public static var options: [CommandOption] { [] }
}

/// A command that runs a job worker: `--describe-json` also lists what it serves.
public protocol WorkerCommand: Command {
    /// Queue → concurrency it works when not told otherwise.
    static var defaultQueues: [String: Int] { get }
    /// The job kinds it has handlers for.
    static var kinds: [String] { get }
}

/// A command that only selects subcommands (`jobs list`, `jobs show` …).
public protocol CommandGroup: CommandDescription {
    static var subcommands: [any CommandDescription.Type] { get }
    /// The subcommand run when the first argument is an option or missing, so a
    /// command that grew subcommands keeps its old form (`jobsctl stats --json`
    /// is `jobsctl stats queues --json`); nil: a command word is required.
    static var defaultCommand: (any Command.Type)? { get }
}

extension CommandGroup {
    public static var defaultCommand: (any Command.Type)? { nil }
}

/// Dispatches argv to the right command, prints help and errors, and exits.
public enum CommandRunner {
    public static func main(_ root: any CommandDescription.Type, arguments: [String]? = nil) async -> Never {
        var status: Int32 = 0
        do {
            let arguments = try arguments ?? validatedArguments(command: root.name)
            if arguments == [CommandTreeDescription.argument] {
                print(try CommandTreeDescription(root).json())
            } else {
                try await dispatch(root, arguments: arguments, path: root.name)
            }
        } catch let error as CommandError {
            writeError("error: \(error)")
            status = error.exitCode
        } catch {
            writeError("error: \(explain(error))")
            status = 1
        }
        ProcessExit.now(status)
    }

    /// The process's arguments (without the program name), each decoded as strict
    /// UTF-8. `CommandLine.arguments` replaces invalid bytes with U+FFFD, so two
    /// different byte strings could become one value (one unique key); such an
    /// argument is refused instead, naming its position.
    static func validatedArguments(command: String) throws -> [String] {
        try (1..<Int(CommandLine.argc)).map { index in
            guard let pointer = CommandLine.unsafeArgv[index] else { return "" }
            guard let text = String(validatingCString: pointer) else {
                throw CommandError.usage(
                    "argument \(index) is not valid UTF-8 text; pass it in UTF-8 (check the terminal's or script's encoding)",
                    command: command)
            }
            return text
        }
    }

    private static func dispatch(_ command: any CommandDescription.Type, arguments: [String], path: String) async throws {
        if let group = command as? any CommandGroup.Type {
            try await dispatchGroup(group, arguments: arguments, path: path)
        } else if let leaf = command as? any Command.Type {
            try await runLeaf(leaf, arguments: arguments, path: path)
        }
    }

    private static func dispatchGroup(_ group: any CommandGroup.Type, arguments: [String], path: String) async throws {
        let word = arguments.first ?? ""
        if word == "--help" || word == "-h" {
            print(groupHelp(group, path: path))
            return
        }
        if let leaf = group.defaultCommand, word.isEmpty || word.hasPrefix("-") {
            try await runLeaf(leaf, arguments: arguments, path: path)
            return
        }
        if word.isEmpty {
            print(groupHelp(group, path: path))
            throw CommandError.usage("\(path) needs a command", command: path)
        }
        guard let sub = group.subcommands.first(where: { $0.name == word }) else {
            let known = group.subcommands.map { $0.name }.joined(separator: ", ")
            throw CommandError.usage("unknown command \"\(word)\"; commands: \(known)", command: path)
        }
        try await dispatch(sub, arguments: Array(arguments.dropFirst()), path: path + " " + word)
    }

    private static func runLeaf(_ command: any Command.Type, arguments: [String], path: String) async throws {
        var parsed = Arguments(
            arguments, commandName: path, valueOptions: Set(command.options.filter(\.takesValue).map(\.name)))
        if parsed.wantsHelp {
            print(command.help)
            return
        }
        let instance = try command.init(arguments: &parsed)
        try parsed.finish()
        try await instance.run()
    }

    private static func groupHelp(_ command: any CommandGroup.Type, path: String) -> String {
        let width = command.subcommands.map { $0.name.count }.max() ?? 0
        let lines = command.subcommands.map { sub in
            "  " + sub.name + String(repeating: " ", count: width - sub.name.count + 2) + sub.summary
        }
        return command.help + "\n\nCommands:\n" + lines.joined(separator: "\n")
            + "\n\nRun `\(path) COMMAND --help` for a command's options."
    }

    /// A failure no command turned into a `CommandError`, in words: the database's
    /// own refusal says so (its message, detail and hint on one line), Foundation's
    /// errors give their localized sentence rather than a dump of their fields.
    static func explain(_ error: any Error) -> String {
        switch error {
        case let error as PostgresError:
            let parts = [error.message] + [error.detail, error.hint].compactMap { $0 }
            let text = parts.joined(separator: "; ").replacingOccurrences(of: "\n", with: " ")
            return switch error.kind {
            case .server: "the database refused the request: \(text)"
            case .connectionFailed, .connectionLost: text.hasPrefix("could not connect") ? text : "database connection: \(text)"
            case .decoding, .encoding, .client: text
            }
        case let error as CocoaError: return error.localizedDescription
        case let error as any CustomStringConvertible: return error.description
        default: return error.localizedDescription
        }
    }

    public static func writeError(_ text: String) {
        let line = text.hasSuffix("\n") ? text : text + "\n"
        // write(2) on fd 2 rather than the C `stderr` global, which Swift 6 treats as shared mutable state.
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
