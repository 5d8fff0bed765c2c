import Foundation
import PostgresClient
import TestSupport
import XCTest

final class MigratorTests: XCTestCase {
    /// A throwaway database per test, so `schema_migrations` starts empty.
    private func freshDatabase() throws -> PostgresConfiguration {
        let admin = try TestDatabase.connect()
        let name = TestDatabase.uniqueName("migrate")
        try admin.executeScript("CREATE DATABASE \(name)")
        addTeardownBlock {
            try? admin.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
        var configuration = try TestDatabase.configuration
        configuration.conninfo += configuration.conninfo.contains("?") ? "&dbname=\(name)" : "?dbname=\(name)"
        return configuration
    }

    private let migrations = [
        PostgresMigrator.Migration(version: 1, name: "accounts", sql: "CREATE TABLE accounts (id bigint PRIMARY KEY);"),
        PostgresMigrator.Migration(
            version: 2, name: "balance", sql: "ALTER TABLE accounts ADD COLUMN balance bigint NOT NULL DEFAULT 0;"),
    ]

    func testAppliesPendingOnceAndRecordsThem() throws {
        let connection = try PostgresConnection.connect(try freshDatabase())
        let migrator = try PostgresMigrator(migrations: migrations)
        XCTAssertEqual(try migrator.migrate(on: connection).map(\.version), [1, 2])
        XCTAssertEqual(try migrator.migrate(on: connection).map(\.version), [])
        XCTAssertTrue(try migrator.status(on: connection).allSatisfy { $0.appliedAt != nil })
        try connection.query("INSERT INTO accounts (id) VALUES (1)")
        XCTAssertEqual(try connection.query("SELECT balance FROM accounts").scalar(Int64.self), 0)
    }

    func testRefusesWhenAnAppliedFileChanged() throws {
        let connection = try PostgresConnection.connect(try freshDatabase())
        try PostgresMigrator(migrations: migrations).migrate(on: connection)
        var edited = migrations
        edited[0] = PostgresMigrator.Migration(
            version: 1, name: "accounts", sql: "CREATE TABLE accounts (id bigint PRIMARY KEY, x int);")
        edited.append(PostgresMigrator.Migration(version: 3, name: "more", sql: "CREATE TABLE more (id int);"))
        XCTAssertThrowsError(try PostgresMigrator(migrations: edited).migrate(on: connection)) { error in
            XCTAssertTrue("\(error)".contains("changed after it was applied"), "\(error)")
        }
        XCTAssertEqual(try connection.query("SELECT count(*) FROM schema_migrations").scalar(Int64.self), 2)
    }

    func testFailedMigrationLeavesNothingHalfApplied() throws {
        let connection = try PostgresConnection.connect(try freshDatabase())
        let broken = migrations + [
            PostgresMigrator.Migration(version: 3, name: "broken", sql: "CREATE TABLE half (id int); SELEC oops;")
        ]
        XCTAssertThrowsError(try PostgresMigrator(migrations: broken).migrate(on: connection)) { error in
            XCTAssertTrue("\(error)".contains("3_broken"), "\(error)")
        }
        XCTAssertEqual(try connection.query("SELECT to_regclass('half') IS NULL").scalar(Bool.self), true)
        XCTAssertEqual(try connection.query("SELECT max(version) FROM schema_migrations").scalar(Int32.self), 2)
    }

    func testConcurrentStartsApplyEachMigrationOnce() async throws {
        let configuration = try freshDatabase()
        let slow = [
            PostgresMigrator.Migration(
                version: 1, name: "slow", sql: "SELECT pg_sleep(0.3); CREATE TABLE once_only (id int);")
        ]
        let migrator = try PostgresMigrator(migrations: slow)
        let applied = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<4 {
                group.addTask {
                    let session = PostgresSession(configuration: configuration, name: "migrate-\(index)")
                    return try await session.withConnection { try migrator.migrate(on: $0).count }
                }
            }
            return try await group.reduce(0, +)
        }
        XCTAssertEqual(applied, 1)
    }

    func testLoadsNumberedFilesFromAFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(TestDatabase.uniqueName("sql"))
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "SELECT 2;".write(to: folder.appendingPathComponent("0002_second.sql"), atomically: true, encoding: .utf8)
        try "SELECT 1;".write(to: folder.appendingPathComponent("0001_first.sql"), atomically: true, encoding: .utf8)
        try "notes".write(to: folder.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        let migrator = try PostgresMigrator(directory: folder)
        XCTAssertEqual(migrator.migrations.map(\.name), ["first", "second"])
        try "x".write(to: folder.appendingPathComponent("bad.sql"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try PostgresMigrator(directory: folder))
    }
}
