/// One option of a command, declared as data so that programs (deployment checks,
/// scripts) can read a command's options from `--describe-json` instead of
/// scraping help text. The help text stays the words for people;
/// `HelpOptionRows` checks that the two name the same options.
public struct CommandOption: Sendable, Equatable {
    /// The option as typed, e.g. "--queues".
    public let name: String
    /// The placeholder of its value in help ("LIST", "N"); nil for a flag.
    public let valueName: String?
    /// What applies when it is not given, as help states it; nil when nothing does.
    public let defaultValue: String?

    public var takesValue: Bool { valueName != nil }

    /// An option without a value (`--no-listen`).
    public static func flag(_ name: String) -> CommandOption {
        CommandOption(name: name, valueName: nil, defaultValue: nil)
    }

    /// An option with a value (`--concurrency N`), and its default if it has one.
    public static func value(_ name: String, _ valueName: String, default defaultValue: String? = nil) -> CommandOption {
        CommandOption(name: name, valueName: valueName, defaultValue: defaultValue)
    }
}
