import Foundation
import PostgresClient
import TestSupport
import XCTest

/// Connections through PgBouncer in transaction pooling mode (`pooling: .transaction`).
final class TransactionPoolingTests: XCTestCase {
    private func pooledConfiguration() throws -> PostgresConfiguration {
        guard let url = try TestDatabase.pgbouncerURL() else {
            throw XCTSkip("pgbouncer is not installed (apt-get install pgbouncer): the PgBouncer tests did not run")
        }
        return PostgresConfiguration(conninfo: url, applicationName: "tests", pooling: .transaction)
    }

    /// Many tasks share few client connections, which PgBouncer spreads over its
    /// server connections transaction by transaction: every statement still gets
    /// its own parameters' answer, and no server connection is left holding a
    /// prepared statement (a direct connection does keep them: the check can fail).
    func testStatementsThroughTransactionPoolingLeaveNothingPreparedOnTheServer() async throws {
        let pool = PostgresPool(configuration: try pooledConfiguration(), maxConnections: 6)
        let answers = try await withThrowingTaskGroup(of: (Int64, Int64, String, Int64).self) { group in
            for value in Int64(0)..<60 {
                group.addTask {
                    try await pool.withConnection { connection in
                        let sum = try connection.query("SELECT $1::int8 + 1", [value]).scalar(Int64.self)
                        let (text, prepared) = try connection.withTransaction { connection in
                            let text = try connection.query("SELECT $1::text || '-' || $2::int8", ["v", value])
                                .scalar(String.self)
                            let prepared = try connection.query("SELECT count(*)::int8 FROM pg_prepared_statements")
                                .scalar(Int64.self)
                            return (text, prepared)
                        }
                        return (value, sum, text, prepared)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(answers.count, 60)
        for (value, sum, text, prepared) in answers {
            XCTAssertEqual(sum, value + 1)
            XCTAssertEqual(text, "v-\(value)")
            XCTAssertEqual(prepared, 0, "the server connection holds no prepared statement")
        }

        let direct = try TestDatabase.connect()
        try direct.query("SELECT $1::int8 + 1", [Int64(1)])
        let kept = try direct.query("SELECT count(*)::int8 FROM pg_prepared_statements").scalar(Int64.self)
        XCTAssertGreaterThan(kept, 0, "a session-pooled (direct) connection prepares and keeps its statements")
    }

    /// What needs a session is refused with a reason and what to do instead.
    func testListenAndMigrationsAreRefusedOnATransactionPooledConnection() throws {
        let connection = try PostgresConnection.connect(try pooledConfiguration())
        XCTAssertThrowsError(try connection.listen("queue_jobs")) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.message.contains("LISTEN needs a session"), true, "\(String(describing: error))")
            XCTAssertEqual(error?.hint?.contains("--listen-url"), true)
        }
        let migrator = try PostgresMigrator(directory: TestDatabase.migrationsFolder)
        XCTAssertThrowsError(try migrator.migrate(on: connection)) { error in
            XCTAssertEqual((error as? PostgresError)?.message.contains("migrations need a direct connection"), true)
        }
    }
}
