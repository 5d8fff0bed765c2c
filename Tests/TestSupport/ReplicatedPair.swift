import Foundation
import PostgresClient

/// A primary and its streaming standby of their own (not the shared test cluster),
/// made by `scripts/devdb.sh` under a temporary folder, for failover tests: the
/// primary can be crashed and the standby promoted without disturbing other tests.
public struct ReplicatedPair: Sendable {
    public let folder: String
    public let primaryURL: String
    public let standbyURL: String
    public static let standbyName = "failover"

    /// Starts both with the repository's migrations applied. `synchronous`: every
    /// commit on the primary waits until the standby has flushed it
    /// (`synchronous_standby_names = '*'`, `synchronous_commit = on`).
    public static func start(synchronous: Bool) async throws -> ReplicatedPair {
        let folder = NSTemporaryDirectory() + TestDatabase.uniqueName("pair")
        do {
            let primaryURL = try await TestDatabase.devdb(["start"], folder: folder)
            let primary = try PostgresConnection.connect(PostgresConfiguration(conninfo: primaryURL, applicationName: "tests"))
            try PostgresMigrator(directory: TestDatabase.migrationsFolder).migrate(on: primary)
            let standbyURL = try await TestDatabase.devdb(["standby", standbyName], folder: folder)
            if synchronous {
                try primary.executeScript("ALTER SYSTEM SET synchronous_standby_names = '*'")
                try primary.executeScript("SELECT pg_reload_conf()")
                var state: String?
                for _ in 0..<200 where state != "sync" {
                    try await Task.sleep(for: .milliseconds(50))
                    state = try primary.query("SELECT sync_state FROM pg_stat_replication").rows.first?.decode(0, as: String.self)
                }
                guard state == "sync" else {
                    throw PostgresError(kind: .client, message: "the standby did not become synchronous in 10 s (\(state ?? "not streaming"))")
                }
            }
            return ReplicatedPair(folder: folder, primaryURL: primaryURL, standbyURL: standbyURL)
        } catch {
            _ = try? await TestDatabase.devdb(["destroy"], folder: folder)
            throw error
        }
    }

    /// libpq's multi-host form: the primary, else the standby; only a server that
    /// accepts writes will do, so clients follow a promotion by reconnecting.
    public var multiHostConninfo: String {
        get throws {
            let primary = try PostgresConfiguration(conninfo: primaryURL).settings()
            let standby = try PostgresConfiguration(conninfo: standbyURL).settings()
            return "host=127.0.0.1,127.0.0.1 port=\(primary["port"] ?? ""),\(standby["port"] ?? "") "
                + "dbname=\(primary["dbname"] ?? "") user=\(primary["user"] ?? "") target_session_attrs=read-write "
                + "connect_timeout=2"
        }
    }

    /// Stops the primary at once, as a crash: no shutdown checkpoint, and WAL not
    /// yet streamed never reaches the standby.
    public func crashPrimary() async throws { try await TestDatabase.devdb(["crash"], folder: folder) }

    public func promoteStandby() async throws { try await TestDatabase.devdb(["promote", Self.standbyName], folder: folder) }

    public func destroy() async { _ = try? await TestDatabase.devdb(["destroy"], folder: folder) }
}
