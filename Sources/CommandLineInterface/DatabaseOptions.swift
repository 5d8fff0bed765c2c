public import PostgresClient
import Foundation

/// Where a command connects: `--database-url`, else `DATABASE_URL`, else libpq's
/// `PG*` variables (and `~/.pgpass`); and whether a transaction-pooling PgBouncer
/// sits in between (`--pooling`, else `DATABASE_POOLING`).
///
/// A password on the command line is refused: argv is visible to every user of the
/// machine (`ps`) and lands in shell history. Passwords go in `PGPASSWORD`,
/// `~/.pgpass`, `DATABASE_URL` or the file named by `DATABASE_URL_FILE`.
public struct DatabaseOptions: Sendable {
    public var configuration: PostgresConfiguration

    public static let help = """
          --database-url URL   PostgreSQL URL without a password (default: $DATABASE_URL,
                               else $DATABASE_URL_FILE's contents, else the PG* variables)
          --pooling MODE       session (default: a direct connection) or transaction (the URL
                               reaches PgBouncer in pool_mode=transaction: unnamed statements,
                               nothing kept between transactions) (default: $DATABASE_POOLING)
        """
    /// `help`'s options, declared for `--describe-json`.
    public static let options: [CommandOption] = [
        .value("--database-url", "URL"), .value("--pooling", "MODE", default: PostgresPooling.session.rawValue),
    ]

    /// Connections are named after the program (`application_name`, as seen in
    /// `pg_stat_activity`).
    public init(arguments: inout Arguments) throws {
        let applicationName = arguments.programName
        let environment = ProcessInfo.processInfo.environment
        let pooling = try Self.pooling(arguments: &arguments, environment: environment)
        let source: String
        if let explicit = try Self.url(option: "--database-url", arguments: &arguments) {
            source = "--database-url"
            configuration = PostgresConfiguration(conninfo: explicit, applicationName: applicationName)
        } else if let url = environment["DATABASE_URL"], !url.isEmpty {
            source = "DATABASE_URL"
            configuration = PostgresConfiguration(conninfo: url, applicationName: applicationName)
        } else if let path = environment["DATABASE_URL_FILE"], !path.isEmpty {
            let contents: String
            do {
                contents = try TextFile.read(path, what: "DATABASE_URL_FILE")
            } catch {
                throw CommandError.failed("\(error)")
            }
            source = "the file DATABASE_URL_FILE names"
            configuration = PostgresConfiguration(
                conninfo: contents.trimmingCharacters(in: .whitespacesAndNewlines), applicationName: applicationName)
        } else {
            source = "the PG* variables"
            configuration = PostgresConfiguration(conninfo: "", applicationName: applicationName)
        }
        configuration.pooling = pooling
        guard (try? configuration.settings()) != nil else {
            throw CommandError.failed(
                "\(source) is neither a postgresql:// URL nor key=value settings libpq accepts "
                    + "(not shown: it may contain a password); check its spelling and quoting")
        }
    }

    /// `--pooling`, else `DATABASE_POOLING`, else `session`.
    private static func pooling(arguments: inout Arguments, environment: [String: String]) throws -> PostgresPooling {
        let (text, source): (String?, String) =
            if let flag = try arguments.option("--pooling") { (flag, "--pooling") } else {
                (environment["DATABASE_POOLING"].flatMap { $0.isEmpty ? nil : $0 }, "DATABASE_POOLING")
            }
        guard let text else { return .session }
        guard let pooling = PostgresPooling(rawValue: text) else {
            throw CommandError.usage(
                "\(source) \"\(text)\" must be session (a direct connection) or transaction (PgBouncer in "
                    + "pool_mode=transaction)",
                command: arguments.commandName)
        }
        return pooling
    }

    /// The connection string given as `option` (`--database-url`, `--read-url`,
    /// `--listen-url`; nil when the option is absent), checked by libpq's own parser
    /// and refused when it carries a password.
    public static func url(option: String, arguments: inout Arguments) throws -> String? {
        guard let given = try arguments.option(option) else { return nil }
        try refuseUnreadableOrPassword(given, option: option, arguments: arguments)
        return given
    }

    /// An explicit URL is checked by libpq's own parser (any spelling of the key, URL
    /// query parameters, percent-encoding) and must carry no password.
    private static func refuseUnreadableOrPassword(_ conninfo: String, option: String, arguments: Arguments) throws {
        guard let settings = try? PostgresConfiguration(conninfo: conninfo).settings() else {
            throw CommandError.usage(
                "\(option) is neither a postgresql:// URL nor key=value settings libpq accepts "
                    + "(not shown: it may contain a password); check its spelling and quoting",
                command: arguments.commandName)
        }
        if settings["password"] != nil {
            throw CommandError.usage(
                "\(option) must not contain a password (it would be visible in `ps`); "
                    + "put it in PGPASSWORD, ~/.pgpass, DATABASE_URL or DATABASE_URL_FILE",
                command: arguments.commandName)
        }
    }
}
