import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// A private queue name per test on the shared test database, so tests never see
/// each other's jobs, plus small helpers to read job rows.
struct QueueFixture {
    let pool: PostgresPool
    let queue: String
    let configuration: PostgresConfiguration

    init() throws {
        try TestDatabase.migrate()
        configuration = try TestDatabase.configuration
        pool = PostgresPool(configuration: configuration, maxConnections: 4)
        queue = TestDatabase.uniqueName("q")
    }

    /// A fixture on a Citus coordinator (`scripts/test.sh --citus`); skips the test on a
    /// single server, saying how to run it.
    static func onCitus() async throws -> QueueFixture {
        let fixture = try QueueFixture()
        guard try TestDatabase.isCitus else {
            throw XCTSkip(TestDatabase.singleServerSkipReason)
        }
        return fixture
    }

    var client: JobQueueClient { JobQueueClient(database: pool) }

    func request(_ kind: String, _ json: String = "{}", maxAttempts: Int = 5, runAt: Date? = nil) -> JobRequest {
        JobRequest(kind: kind, argumentsJSON: json, queue: queue, runAt: runAt, maxAttempts: maxAttempts)
    }

    func worker(
        _ handlers: JobHandlerRegistry, concurrency: Int = 4, log: JobLog = .silent,
        configure: (inout WorkerConfiguration) -> Void = { _ in }
    ) throws -> JobWorker {
        var settings = WorkerConfiguration(
            queues: [queue: concurrency], workerID: TestDatabase.uniqueName("worker"), pollInterval: .milliseconds(200),
            leaseDuration: .seconds(5), rescueInterval: .milliseconds(200), stageInterval: .milliseconds(100),
            shutdownGracePeriod: .seconds(5))
        configure(&settings)
        return try JobWorker(database: configuration, handlers: handlers, configuration: settings, log: log)
    }

    struct Row: Sendable {
        var state: String
        var attempt: Int
        var errors: [String]
        var runAt: Date
    }

    func row(_ id: Int64) async throws -> Row {
        let result = try await pool.query(
            "SELECT state, attempt, errors::text, run_at FROM queue.jobs WHERE id = $1", [id])
        guard let row = result.first else { throw ChildProcessError(message: "job \(id) does not exist") }
        let (state, attempt, errorsJSON, runAt) = try row.decode((String, Int32, String, Date).self)
        let entries = try JSONSerialization.jsonObject(with: Data(errorsJSON.utf8)) as? [[String: Any]] ?? []
        return Row(
            state: state, attempt: Int(attempt), errors: entries.map { "\($0["error"] ?? "")" }, runAt: runAt)
    }

    /// Counts of this queue's jobs by state.
    func counts() async throws -> [String: Int] {
        let result = try await pool.query(
            "SELECT state, count(*)::int8 FROM queue.jobs WHERE queue = $1 GROUP BY state", [queue])
        var counts: [String: Int] = [:]
        for row in result.rows {
            let (state, count) = try row.decode((String, Int64).self)
            counts[state] = Int(count)
        }
        return counts
    }

    /// The table `testbed.effect` jobs record their effects in (the testbed's own
    /// definition), created before any worker starts so a test can query it at once.
    func createTestbedEffects() async throws {
        _ = try await pool.query(
            "CREATE TABLE IF NOT EXISTS testbed_effects (job_id bigint NOT NULL, attempt integer NOT NULL, "
                + "worker text NOT NULL, at timestamptz NOT NULL DEFAULT now())")
    }

    /// The table `testbed.interval` jobs record their runs in (the testbed's own
    /// definition), created before any worker starts so a test can query it at once.
    func createTestbedIntervals() async throws {
        _ = try await pool.query(
            """
            CREATE TABLE IF NOT EXISTS testbed_intervals (job_id bigint NOT NULL, attempt integer NOT NULL,
                worker text NOT NULL, started_at timestamptz NOT NULL, ended_at timestamptz)
            """)
    }

    func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws -> Bool {
        try await TestSupport.eventually(timeout: timeout, condition)
    }
}

struct Payload: JobArguments {
    static let kind = "test.payload"
    var number: Int
    var label: String
}
