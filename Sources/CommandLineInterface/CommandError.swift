/// A failure a command reports to its user: what was wrong and what to do.
public enum CommandError: Error, CustomStringConvertible {
    /// The command line itself was wrong; the message ends with a pointer to --help.
    case usage(String, command: String)
    /// The command ran and could not do its job.
    case failed(String)

    public var description: String {
        switch self {
        case .usage(let message, let command): "\(message)\n(see `\(command) --help`)"
        case .failed(let message): message
        }
    }

    /// Exit status: 64 (EX_USAGE) for a wrong command line, 1 otherwise.
    public var exitCode: Int32 {
        switch self {
        case .usage: 64
        case .failed: 1
        }
    }
}
