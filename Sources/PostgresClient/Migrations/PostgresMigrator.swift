public import Foundation

/// Applies the numbered SQL files of a folder (`0001_name.sql`, `0002_…`) in order.
///
/// Each pending file runs in its own transaction together with its row in
/// `schema_migrations` (version, name, md5 checksum). A file that was applied and
/// has since changed stops the run: applied migrations are history, fixes go in a
/// new file. A session advisory lock makes concurrent starts safe: the second
/// process waits, then finds nothing left to do.
public struct PostgresMigrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String

        public init(version: Int, name: String, sql: String) {
            self.version = version
            self.name = name
            self.sql = sql
        }
    }

    public struct Status: Sendable {
        public let migration: Migration
        public let appliedAt: Date?
    }

    public let migrations: [Migration]
    /// Arbitrary constant; identifies "the migration lock" among advisory locks.
    static let lockKey: Int64 = 0x6D69_6772_6174_65

    public init(migrations: [Migration]) throws {
        var seen = Set<Int>()
        for migration in migrations where !seen.insert(migration.version).inserted {
            throw PostgresError.client("two migrations share version \(migration.version)")
        }
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Reads `NNNN_name.sql` files from `directory`.
    public init(directory: URL) throws {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw PostgresError.client(
                "cannot read migrations folder \(directory.path): \(error.localizedDescription); "
                    + "set MIGRATIONS_DIR to the project's sql/ folder")
        }
        var migrations: [Migration] = []
        for file in files where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else {
                throw PostgresError.client("migration file \(file) is not named NNNN_description.sql")
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        try self.init(migrations: migrations)
    }

    /// Applies what is pending; returns the migrations applied by this call.
    @discardableResult
    public func migrate(on connection: PostgresConnection) throws -> [Migration] {
        // The lock is a session lock: through transaction pooling, the unlock could
        // reach another server connection and leave the lock held for good.
        guard connection.configuration.pooling == .session else {
            throw PostgresError(
                kind: .client, message: "migrations need a direct connection (they hold a session advisory lock), "
                    + "not one through a transaction-pooling PgBouncer",
                hint: "run jobsctl migrate with the server's own URL and without --pooling transaction")
        }
        try connection.query("SELECT pg_advisory_lock($1)", [Self.lockKey])
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1)", [Self.lockKey]) }
        try ensureTable(on: connection)
        let applied = try appliedChecksums(on: connection)
        try verify(applied: applied, on: connection)
        var done: [Migration] = []
        for migration in migrations where applied[migration.version] == nil {
            do {
                try connection.withTransaction { connection in
                    try connection.executeScript(migration.sql)
                    try connection.query(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, md5($3))",
                        [migration.version, migration.name, migration.sql])
                }
            } catch let error as PostgresError {
                var failed = error
                failed.message = "migration \(migration.version)_\(migration.name) failed: \(error.message)"
                throw failed
            }
            done.append(migration)
        }
        return done
    }

    public func status(on connection: PostgresConnection) throws -> [Status] {
        try ensureTable(on: connection)
        let rows = try connection.query("SELECT version, applied_at FROM schema_migrations").rows
        var appliedAt: [Int: Date] = [:]
        for row in rows { appliedAt[try row.decode(0, as: Int.self)] = try row.decode(1, as: Date.self) }
        return migrations.map { Status(migration: $0, appliedAt: appliedAt[$0.version]) }
    }

    private func ensureTable(on connection: PostgresConnection) throws {
        try connection.executeScript(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
    }

    private func appliedChecksums(on connection: PostgresConnection) throws -> [Int: String] {
        var checksums: [Int: String] = [:]
        for row in try connection.query("SELECT version, checksum FROM schema_migrations").rows {
            checksums[try row.decode(0, as: Int.self)] = try row.decode(1, as: String.self)
        }
        return checksums
    }

    private func verify(applied: [Int: String], on connection: PostgresConnection) throws {
        for migration in migrations {
            guard let stored = applied[migration.version] else { continue }
            let current = try connection.query("SELECT md5($1)", [migration.sql]).scalar(String.self)
            if current != stored {
                throw PostgresError.client(
                    "migration \(migration.version)_\(migration.name) was changed after it was applied "
                        + "(checksum \(stored) in the database, \(current) on disk); restore the file and put the "
                        + "change in a new migration")
            }
        }
    }
}
