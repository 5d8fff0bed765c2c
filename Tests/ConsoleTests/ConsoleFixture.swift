import Console
import Foundation
import PostgresClient
import TestSupport

/// A console on a free port over the test database, with a viewer, an operator and a
/// finance user (fresh names per test), and jobs on a queue of the test's own.
struct ConsoleFixture {
    let server: ConsoleServer
    let database: ConsoleDatabase
    let client: ConsoleClient
    let viewerName: String
    let operatorName: String
    let financeName: String
    let password = "correct horse battery"

    init(refreshInterval: Duration = .seconds(2)) throws {
        try TestDatabase.migrate()
        let connection = try TestDatabase.connect()
        let suffix = String(UInt32.random(in: 0...UInt32.max))
        viewerName = "viewer\(suffix)"
        operatorName = "operator\(suffix)"
        financeName = "finance\(suffix)"
        for (name, role) in [(viewerName, ConsoleRole.viewer), (operatorName, .operator), (financeName, .finance)] {
            try ConsoleSession.setUser(name: name, password: password, role: role, on: connection)
        }
        database = ConsoleDatabase(configuration: try TestDatabase.configuration)
        server = try ConsoleServer(
            database: database, timeZone: TimeZone(identifier: "Asia/Shanghai")!, port: 0, refreshInterval: refreshInterval)
        server.start()
        client = ConsoleClient(port: server.port)
    }

    /// Inserts `count` jobs in `state` on a fresh queue, arguments `{"n": i, "phone": …}`; returns the queue.
    func insertJobs(_ count: Int, state: String, kind: String = "console.test") throws -> String {
        let queue = TestDatabase.uniqueName("console")
        let connection = try TestDatabase.connect()
        try connection.query(
            """
            INSERT INTO queue.jobs (kind, queue, args, state, attempt, max_attempts, finalized_at, errors)
            SELECT $1, $2, jsonb_build_object('n', i, 'phone', '13812345678'), $3,
                   CASE WHEN $3 = 'discarded' THEN 3 ELSE 0 END, 3,
                   CASE WHEN $3 IN ('completed', 'cancelled', 'discarded') THEN now() END,
                   CASE WHEN $3 = 'discarded' THEN '[{"attempt": 3, "at": "2026-01-01T00:00:00Z", "error": "gateway refused 13812345678"}]'::jsonb ELSE '[]'::jsonb END
            FROM generate_series(1, $4) AS i
            """, [kind, queue, state, Int64(count)])
        return queue
    }

    /// How many jobs of `queue` are in each state.
    func states(_ queue: String) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try TestDatabase.connect().query("SELECT state, count(*)::int8 FROM queue.jobs WHERE queue = $1 GROUP BY state", [queue]).rows {
            let (state, count) = try row.decode((String, Int64).self)
            counts[state] = Int(count)
        }
        return counts
    }
}
