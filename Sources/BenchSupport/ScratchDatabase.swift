import Foundation
public import PostgresClient

/// A database created for one suite run on the given server and dropped at its end,
/// so the suite never touches an existing database's tables.
public struct ScratchDatabase: Sendable {
    public let name: String
    /// Connects to the scratch database.
    public let configuration: PostgresConfiguration
    /// Connects to the database the user named (to create and drop the scratch one).
    public let administration: PostgresConfiguration

    public static func create(on server: PostgresConfiguration) throws -> ScratchDatabase {
        let name = "queue_bench_\(getpid())_\(Int(Date().timeIntervalSince1970))"
        let connection = try PostgresConnection.connect(server)
        do {
            try connection.executeScript("CREATE DATABASE \(try connection.quoteIdentifier(name))")
        } catch {
            throw BenchFailure(
                "cannot create the scratch database \(name) (the suite needs CREATEDB on the server): \(error)")
        }
        var configuration = server
        configuration.conninfo = Self.conninfo(server.conninfo, database: name)
        return ScratchDatabase(name: name, configuration: configuration, administration: server)
    }

    /// Creates a scratch database, runs `body` in it and drops it — also when `body`
    /// throws, and (through `InterruptCleanup`) when the process is interrupted meanwhile.
    public static func using<T>(on server: PostgresConfiguration, _ body: (ScratchDatabase) async throws -> T) async throws -> T {
        let scratch = try create(on: server)
        InterruptCleanup.shared.track(scratch)
        let value: T
        do {
            value = try await body(scratch)
        } catch {
            InterruptCleanup.shared.track(nil)
            try? scratch.drop()
            throw error
        }
        InterruptCleanup.shared.track(nil)
        try scratch.drop()
        return value
    }

    /// Drops the database, ending any session still connected to it.
    public func drop() throws {
        let connection = try PostgresConnection.connect(administration)
        try connection.executeScript("DROP DATABASE IF EXISTS \(try connection.quoteIdentifier(name)) WITH (FORCE)")
    }

    /// The same connection string with another database: the path of a URL
    /// (`postgresql://user@host:port/db?options`), else a trailing `dbname=` keyword
    /// (a repeated keyword overrides an earlier one in a libpq key=value string).
    public static func conninfo(_ conninfo: String, database: String) -> String {
        for scheme in ["postgresql://", "postgres://"] where conninfo.hasPrefix(scheme) {
            let rest = conninfo.dropFirst(scheme.count)
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            let queryStart = rest[authorityEnd...].firstIndex(of: "?") ?? rest.endIndex
            return scheme + rest[..<authorityEnd] + "/" + database + rest[queryStart...]
        }
        return conninfo.isEmpty ? "dbname=\(database)" : conninfo + " dbname=\(database)"
    }
}
