import Foundation
import PostgresClient
import TestSupport
import XCTest

final class PoolTests: XCTestCase {
    func testPoolNeverOpensMoreThanItsLimit() async throws {
        let name = TestDatabase.uniqueName("pooltest")
        var configuration = try TestDatabase.configuration
        configuration.applicationName = name
        let pool = PostgresPool(configuration: configuration, maxConnections: 3)
        let peak = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<30 {
                group.addTask {
                    try await pool.withConnection { connection in
                        try connection.query("SELECT pg_sleep(0.02)")
                        return try connection.query(
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", [name]
                        ).scalar(Int64.self)
                    }
                }
            }
            return try await group.reduce(0) { max($0, $1) }
        }
        XCTAssertGreaterThan(peak, 0)
        XCTAssertLessThanOrEqual(peak, 3)
    }

    func testBlockingQueriesDoNotStallOtherTasks() async throws {
        let pool = PostgresPool(configuration: try TestDatabase.configuration, maxConnections: 4)
        // Four sessions sleep in the server at once; meanwhile a plain task must keep ticking.
        async let sleeps: Void = withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { try await pool.query("SELECT pg_sleep(0.6)") } }
            try await group.waitForAll()
        }
        var ticks = 0
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .milliseconds(500) {
            try await Task.sleep(for: .milliseconds(10))
            ticks += 1
        }
        try await sleeps
        XCTAssertGreaterThan(ticks, 20, "the cooperative pool was blocked by libpq calls")
    }

    func testPoolRecoversAfterServerRestart() async throws {
        let pool = PostgresPool(configuration: try TestDatabase.configuration, maxConnections: 2)
        let first = try await pool.query("SELECT 1::int8")
        XCTAssertEqual(try first.scalar(Int64.self), 1)

        // A statement in flight while the server restarts fails as "connection lost".
        async let inFlight = pool.query("SELECT pg_sleep(30)")
        try await Task.sleep(for: .milliseconds(300))
        try TestDatabase.control("restart")
        do {
            _ = try await inFlight
            XCTFail("a statement running across a server restart cannot succeed")
        } catch let error as PostgresError {
            XCTAssertTrue(error.isConnectionProblem, "\(error)")
        }
        // The next checkouts work without any manual reconnect, including the idle session.
        for _ in 0..<4 {
            let again = try await pool.query("SELECT 2::int8")
            XCTAssertEqual(try again.scalar(Int64.self), 2)
        }
    }

    func testStoppedServerGivesAClearErrorThenRecovers() async throws {
        let pool = PostgresPool(configuration: try TestDatabase.configuration, maxConnections: 1)
        _ = try await pool.query("SELECT 1")
        try TestDatabase.control("stop")
        do {
            _ = try await pool.query("SELECT 1")
            XCTFail("no server, no result")
        } catch let error as PostgresError {
            XCTAssertTrue(error.isConnectionProblem, "\(error)")
            XCTAssertTrue("\(error)".contains("127.0.0.1"), "\(error)")
        }
        try TestDatabase.control("start")
        let back = try await pool.query("SELECT 3::int8")
        XCTAssertEqual(try back.scalar(Int64.self), 3)
    }
}
