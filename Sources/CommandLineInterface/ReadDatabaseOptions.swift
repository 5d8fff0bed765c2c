public import PostgresClient
import Foundation

/// Where a command that only reads connects: `--read-url`, else `DATABASE_READ_URL`
/// (a hot standby, say), else wherever `DatabaseOptions` points. Commands that write
/// never take this: a standby refuses writes, and the primary is the truth.
public struct ReadDatabaseOptions: Sendable {
    /// The connection for the command's reads.
    public var configuration: PostgresConfiguration
    /// Whether the reads go to a URL of their own rather than the primary's.
    public var readsFromReadURL: Bool

    public static let help = DatabaseOptions.help + "\n" + """
          --read-url URL       where this read-only command reads, e.g. a hot standby
                               (default: $DATABASE_READ_URL, else the database URL)
        """
    /// `help`'s options, declared for `--describe-json`.
    public static let options: [CommandOption] = DatabaseOptions.options + [.value("--read-url", "URL")]

    public init(arguments: inout Arguments) throws {
        let explicit = try DatabaseOptions.url(option: "--read-url", arguments: &arguments)
        let primary = try DatabaseOptions(arguments: &arguments)
        let applicationName = arguments.programName
        if let explicit {
            configuration = PostgresConfiguration(conninfo: explicit, applicationName: applicationName)
            readsFromReadURL = true
        } else if let url = ProcessInfo.processInfo.environment["DATABASE_READ_URL"], !url.isEmpty {
            configuration = PostgresConfiguration(conninfo: url, applicationName: applicationName)
            guard (try? configuration.settings()) != nil else {
                throw CommandError.failed(
                    "DATABASE_READ_URL is neither a postgresql:// URL nor key=value settings libpq accepts "
                        + "(not shown: it may contain a password); check its spelling and quoting")
            }
            readsFromReadURL = true
        } else {
            configuration = primary.configuration
            readsFromReadURL = false
        }
    }
}
