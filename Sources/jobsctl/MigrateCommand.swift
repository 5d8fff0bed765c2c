import CommandLineInterface
import Foundation
import PostgresClient

/// `jobsctl migrate [--status]`: applies pending migrations, or lists them.
struct MigrateCommand: Command {
    static let name = "migrate"
    static let summary = "apply pending database migrations (or show them with --status)"
    static let options: [CommandOption] = [.flag("--status")] + DatabaseOptions.options + [MigrationsDirectory.option]
    static let help = """
        Usage: jobsctl migrate [--status] [--database-url URL] [--migrations DIR]

        Applies the pending migrations of sql/ in order, each in its own transaction.
        Safe to run from several processes at once; refuses to run when an applied
        migration file was changed (put changes in a new file instead).

        Options:
          --status             list migrations and when each was applied; change nothing
        \(DatabaseOptions.help)
        \(MigrationsDirectory.help)
        """

    let statusOnly: Bool
    let database: DatabaseOptions
    let migrationsFolder: URL

    init(arguments: inout Arguments) throws {
        statusOnly = arguments.flag("--status")
        database = try DatabaseOptions(arguments: &arguments)
        migrationsFolder = try MigrationsDirectory.resolve(&arguments)
    }

    func run() async throws {
        let migrator = try PostgresMigrator(directory: migrationsFolder)
        let connection = try PostgresConnection.connect(database.configuration)
        if statusOnly {
            let formatter = ISO8601DateFormatter()
            for status in try migrator.status(on: connection) {
                let state = status.appliedAt.map { "applied \(formatter.string(from: $0))" } ?? "pending"
                print(String(format: "%04d", status.migration.version), status.migration.name, state)
            }
            return
        }
        let applied = try migrator.migrate(on: connection)
        if applied.isEmpty {
            print("database is up to date (\(migrator.migrations.count) migrations)")
        } else {
            for migration in applied {
                print("applied", String(format: "%04d", migration.version), migration.name)
            }
        }
    }
}
