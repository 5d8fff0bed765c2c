import Foundation

/// What `PROGRAM --describe-json` prints: the program's command tree, each command's
/// declared options and, for a worker, the queues and kinds it serves. Deployment
/// checks (scripts/compose_check) read this instead of scraping help text or sources.
///
/// Before printing, every command's declared options are checked against the rows of
/// its help text, so the description and the help cannot drift apart unnoticed.
public struct CommandTreeDescription: Encodable, Sendable {
    /// The argument that asks a program for its description.
    public static let argument = "--describe-json"

    struct Option: Encodable, Sendable {
        let name: String
        let takesValue: Bool
        let valueName: String?
        let defaultValue: String?

        enum CodingKeys: String, CodingKey {
            case name
            case takesValue = "takes_value"
            case valueName = "value_name"
            case defaultValue = "default"
        }

        /// Writes every key, nulls included, so that each option reads the same.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(takesValue, forKey: .takesValue)
            try container.encode(valueName, forKey: .valueName)
            try container.encode(defaultValue, forKey: .defaultValue)
        }
    }

    struct Work: Encodable, Sendable {
        let defaultQueues: [String: Int]
        let kinds: [String]

        enum CodingKeys: String, CodingKey {
            case defaultQueues = "default_queues"
            case kinds
        }
    }

    let name: String
    let path: String
    let summary: String
    let options: [Option]
    let commands: [CommandTreeDescription]
    let work: Work?

    /// Describes `command` and everything under it; throws when a command's declared
    /// options disagree with its help.
    public init(_ command: any CommandDescription.Type, path: String? = nil) throws {
        let path = path ?? command.name
        name = command.name
        self.path = path
        summary = command.summary
        if let group = command as? any CommandGroup.Type {
            options = []
            commands = try group.subcommands.map { try CommandTreeDescription($0, path: path + " " + $0.name) }
        } else {
            let declared = (command as? any Command.Type)?.options ?? []
            let problems = HelpOptionRows.mismatches(declared: declared, help: command.help)
            guard problems.isEmpty else {
                throw CommandError.failed(
                    "\(path): its declared options and its --help disagree: " + problems.joined(separator: "; "))
            }
            options = declared.map {
                Option(name: $0.name, takesValue: $0.takesValue, valueName: $0.valueName, defaultValue: $0.defaultValue)
            }
            commands = []
        }
        if let worker = command as? any WorkerCommand.Type {
            work = Work(defaultQueues: worker.defaultQueues, kinds: worker.kinds.sorted())
        } else {
            work = nil
        }
    }

    /// Pretty-printed JSON with sorted keys, so that the output diffs well.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
