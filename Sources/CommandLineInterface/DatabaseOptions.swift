public import PostgresClient
import Foundation

/// Where a command connects: `--database-url`, else `DATABASE_URL`, else libpq's
/// `PG*` variables (and `~/.pgpass`).
///
/// A password on the command line is refused: argv is visible to every user of the
/// machine (`ps`) and lands in shell history. Passwords go in `PGPASSWORD`,
/// `~/.pgpass`, `DATABASE_URL` or the file named by `DATABASE_URL_FILE`.
public struct DatabaseOptions: Sendable {
    public var configuration: PostgresConfiguration

    public static let help = """
          --database-url URL   PostgreSQL URL without a password (default: $DATABASE_URL,
                               else $DATABASE_URL_FILE's contents, else the PG* variables)
        """
    /// `help`'s option, declared for `--describe-json`.
    public static let options: [CommandOption] = [.value("--database-url", "URL")]

    public init(arguments: inout Arguments, applicationName: String) throws {
        let explicit = try arguments.option("--database-url")
        let environment = ProcessInfo.processInfo.environment
        if let explicit {
            if PostgresConfiguration(conninfo: explicit).redactedConninfo != explicit {
                throw CommandError.usage(
                    "--database-url must not contain a password (it would be visible in `ps`); "
                        + "put it in PGPASSWORD, ~/.pgpass, DATABASE_URL or DATABASE_URL_FILE",
                    command: arguments.commandName)
            }
            configuration = PostgresConfiguration(conninfo: explicit, applicationName: applicationName)
        } else if let url = environment["DATABASE_URL"], !url.isEmpty {
            configuration = PostgresConfiguration(conninfo: url, applicationName: applicationName)
        } else if let path = environment["DATABASE_URL_FILE"], !path.isEmpty {
            let contents: String
            do {
                contents = try TextFile.read(path, what: "DATABASE_URL_FILE")
            } catch {
                throw CommandError.failed("\(error)")
            }
            configuration = PostgresConfiguration(
                conninfo: contents.trimmingCharacters(in: .whitespacesAndNewlines), applicationName: applicationName)
        } else {
            configuration = PostgresConfiguration(conninfo: "", applicationName: applicationName)
        }
    }
}
