public import PostgresClient
public import Foundation

/// The private server `scripts/test.sh` starts. Tests that touch data fail (not
/// skip) without it: a green run must mean they ran.
public enum TestDatabase {
    public static var url: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !url.isEmpty else {
                throw PostgresError(kind: .client, message: "TEST_DATABASE_URL is not set: run the tests with scripts/test.sh")
            }
            return url
        }
    }

    public static var configuration: PostgresConfiguration {
        get throws { PostgresConfiguration(conninfo: try url, applicationName: "tests") }
    }

    public static func connect() throws -> PostgresConnection {
        try PostgresConnection.connect(try configuration)
    }

    /// Runs `scripts/devdb.sh <command>` on the test cluster (restart, stop, start).
    public static func control(_ command: String) throws {
        guard let script = ProcessInfo.processInfo.environment["DEVDB_SCRIPT"] else {
            throw PostgresError(kind: .client, message: "DEVDB_SCRIPT is not set: run the tests with scripts/test.sh")
        }
        let status = try ChildProcess.run(script, [command])
        guard status == 0 else {
            throw PostgresError(kind: .client, message: "devdb.sh \(command) exited \(status)")
        }
        // A PgBouncer in front holds server connections the restart or stop closed:
        // it is stopped too, and the next test that needs it starts it afresh.
        if let pgbouncer = ProcessInfo.processInfo.environment["PGBOUNCER_SCRIPT"] {
            _ = try ChildProcess.run(pgbouncer, ["stop"])
        }
    }

    /// PgBouncer in transaction pooling mode in front of the test cluster, started
    /// on first use (`scripts/pgbouncer.sh`; `scripts/test.sh` stops it at the end):
    /// its URL, or nil when pgbouncer is not installed (the caller skips, saying so).
    public static func pgbouncerURL() throws -> String? {
        let environment = ProcessInfo.processInfo.environment
        guard let script = environment["PGBOUNCER_SCRIPT"], let folder = environment["PGBOUNCER_DIR"] else {
            throw PostgresError(kind: .client, message: "PGBOUNCER_SCRIPT is not set: run the tests with scripts/test.sh")
        }
        let status = try ChildProcess.run(script, ["start"])
        if status == 3 { return nil }
        guard status == 0 else {
            throw PostgresError(kind: .client, message: "pgbouncer.sh start exited \(status); see \(folder)/pgbouncer.log")
        }
        let port = try String(contentsOfFile: folder + "/port", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return "postgresql://postgres@127.0.0.1:\(port)/cleaning"
    }

    /// Runs `scripts/devdb.sh ARGUMENTS` (a standby of the test cluster, say) and returns
    /// the last line it printed (a URL for `start` and `standby`). `folder` sets
    /// `DEVDB_DIR`: a cluster of its own instead of the test cluster.
    @discardableResult
    public static func devdb(_ arguments: [String], folder: String? = nil) async throws -> String {
        guard let script = ProcessInfo.processInfo.environment["DEVDB_SCRIPT"] else {
            throw PostgresError(kind: .client, message: "DEVDB_SCRIPT is not set: run the tests with scripts/test.sh")
        }
        let outputPath = NSTemporaryDirectory() + uniqueName("devdb") + ".out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let process = try ChildProcess(
            executable: script, arguments: arguments, environment: folder.map { ["DEVDB_DIR": $0] } ?? [:],
            outputPath: outputPath)
        let status = await process.wait(timeout: .seconds(120)) ?? -99
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw PostgresError(kind: .client, message: "devdb.sh \(arguments.joined(separator: " ")) exited \(status): \(output)")
        }
        return output.split(separator: "\n").last.map(String.init) ?? ""
    }

    /// A table name unique to one test run, so tests do not collide.
    public static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
    }
}

extension TestDatabase {
    /// True when the test database is a Citus coordinator (`scripts/test.sh --citus`),
    /// where the distributed layout is checked and what Citus refuses is left out.
    public static var isCitus: Bool {
        get throws { try citusAnswer.get() }
    }

    /// Asked once per test process (the test database does not change kind during a
    /// run), instead of a connection per question.
    private static let citusAnswer = Result(catching: {
        try connect().query("SELECT count(*)::int8 FROM pg_extension WHERE extname = 'citus'").scalar(Int64.self) == 1
    })

    /// Why a Citus-only test skips on a single server, and how to run it.
    public static let singleServerSkipReason =
        "the test database is a single server, not a Citus coordinator: run scripts/test.sh --citus"

    /// The repository's `sql/` folder (found from this file's location).
    public static var migrationsFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("sql")
    }

    /// Applies the repository's migrations to the test database (idempotent).
    public static func migrate() throws {
        let connection = try connect()
        try PostgresMigrator(directory: migrationsFolder).migrate(on: connection)
    }

    /// An executable built next to the tests (`scripts/test.sh` exports BIN_DIR).
    public static func executable(_ name: String) throws -> String {
        guard let folder = ProcessInfo.processInfo.environment["BIN_DIR"] else {
            throw PostgresError(kind: .client, message: "BIN_DIR is not set: run the tests with scripts/test.sh")
        }
        return folder + "/" + name
    }
}
