import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// A database that stops answering (connections killed, `max_connections`
/// exhausted by another client) is news for the log once when it begins and once
/// when it ends, not once per failed claim, heartbeat and write.
final class DatabaseOutageTests: XCTestCase {
    private func capture() -> (Recorder<String>, JobLog) {
        let lines = Recorder<String>()
        return (lines, JobLog(minimumLevel: .debug, sink: { lines.append($0) }))
    }

    func testAnOutageIsOneLineWhenItBeginsAndOneWhenItEndsWhateverFailsMeanwhile() {
        let (lines, log) = capture()
        let outage = DatabaseOutage(log: log, settle: .zero)
        let refused = PostgresError(
            kind: .connectionFailed, message: "could not connect: FATAL:  sorry, too many clients already")
        outage.answered()
        XCTAssertEqual(lines.all, [], "no outage, nothing to say")
        for activity in ["claiming", "heartbeat", "writing job outcomes", "claiming", "listening"] {
            XCTAssertTrue(outage.failed(activity, refused))
        }
        XCTAssertEqual(lines.all.count, 1, "\(lines.all)")
        XCTAssertTrue(lines.all[0].contains("level=error msg=\"database unreachable; backing off"), lines.all[0])
        XCTAssertTrue(lines.all[0].contains("during=claiming"), lines.all[0])
        XCTAssertTrue(lines.all[0].contains("too many clients already"), "the line says why: \(lines.all[0])")
        outage.answered()
        outage.answered()
        XCTAssertEqual(lines.all.count, 2, "\(lines.all)")
        XCTAssertTrue(lines.all[1].contains("msg=\"database reachable again; resuming\""), lines.all[1])
        XCTAssertTrue(lines.all[1].contains("failures=5"), lines.all[1])

        XCTAssertTrue(outage.failed("heartbeat", PostgresError(kind: .connectionLost, message: "server closed the connection")))
        XCTAssertEqual(outage.episodes, 2, "a new failure after an answer is a new outage")
        XCTAssertEqual(lines.all.count, 3)

        let denied = PostgresError(kind: .server, message: "permission denied for table jobs", sqlState: "42501")
        XCTAssertFalse(outage.failed("claiming", denied), "not a connection problem: the caller logs it")
        XCTAssertFalse(outage.failed("claiming", CancellationError()))
        XCTAssertEqual(lines.all.count, 3)
    }

    func testConnectionsThatFlipBetweenRefusedAndAnsweredAreStillOneOutage() {
        let (lines, log) = capture()
        let outage = DatabaseOutage(log: log, settle: .seconds(3600))
        let refused = PostgresError(kind: .connectionFailed, message: "FATAL:  sorry, too many clients already")
        for _ in 0..<5 {
            XCTAssertTrue(outage.failed("claiming", refused))
            outage.answered()
        }
        XCTAssertEqual(outage.episodes, 1, "some connections get through, others not: one outage")
        XCTAssertEqual(lines.all.count, 1, "not over before the database has answered for the settle time: \(lines.all)")
    }

    /// The role's connection limit stands in for an exhausted `max_connections` (the
    /// test cluster is shared by parallel tests): the server refuses the worker's
    /// connections with the same SQLSTATE 53300 until connections free up.
    func testAWorkerRefusedConnectionsLogsTheOutageOnceAndCarriesOnWhenConnectionsFree() async throws {
        let fixture = try QueueFixture()
        let role = TestDatabase.uniqueName("outage")
        try await fixture.pool.query("CREATE ROLE \(role) LOGIN IN ROLE cleaning_worker")
        let database = PostgresConfiguration(conninfo: try TestDatabase.url + "?user=\(role)", applicationName: "outage-test")
        let (lines, log) = capture()
        let done = Recorder<Int>()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { arguments, _ in done.append(arguments.number) }
        let worker = try JobWorker(
            database: database, handlers: handlers,
            configuration: WorkerConfiguration(
                queues: [fixture.queue: 2], workerID: TestDatabase.uniqueName("worker"), pollInterval: .milliseconds(100),
                leaseDuration: .seconds(3), rescueInterval: .milliseconds(200), stageInterval: .milliseconds(100),
                shutdownGracePeriod: .seconds(5), leaderInterval: .milliseconds(200)),
            log: log)
        try await worker.running {
            try await fixture.client.enqueue(try JobRequest(Payload(number: 1, label: "before"), queue: fixture.queue))
            let first = try await fixture.eventually { done.all == [1] }
            XCTAssertTrue(first, "the worker runs jobs before the outage")

            try await fixture.pool.query("ALTER ROLE \(role) CONNECTION LIMIT 0")
            try await fixture.pool.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [role])
            try await fixture.client.enqueue(try JobRequest(Payload(number: 2, label: "during"), queue: fixture.queue))
            let cutOff = try await fixture.eventually { worker.databaseOutageCount == 1 }
            XCTAssertTrue(cutOff, "the worker noticed: \(lines.all.suffix(5))")
            // Claims, heartbeats, housekeeping and the listener keep failing meanwhile:
            // the server refuses every new connection of the role ("too many connections").
            try await Task.sleep(for: .seconds(2))
            XCTAssertEqual(done.all, [1], "nothing runs while the worker cannot connect")

            try await fixture.pool.query("ALTER ROLE \(role) CONNECTION LIMIT -1")
            let second = try await fixture.eventually { done.all == [1, 2] }
            XCTAssertTrue(second, "the worker reconnects by itself and runs the job enqueued meanwhile")
            let completed = try await fixture.eventually { try await fixture.counts() == ["completed": 2] }
            let counts = try await fixture.counts()
            XCTAssertTrue(completed, "\(counts)")
            let over = try await fixture.eventually { lines.all.contains { $0.contains("database reachable again") } }
            XCTAssertTrue(over, "the outage ends once the database has answered for a while: \(lines.all.suffix(5))")
        }
        let complaints = lines.all.filter { $0.contains("level=error") || $0.contains("level=warning") }
        XCTAssertEqual(complaints.count, 1, "one line for the whole outage, not one per failure:\n\(complaints.joined(separator: "\n"))")
        XCTAssertTrue(complaints.first?.contains("database unreachable; backing off") ?? false, "\(complaints)")
        let recovered = lines.all.filter { $0.contains("database reachable again") }
        XCTAssertEqual(recovered.count, 1, "\(lines.all)")
        XCTAssertEqual(worker.databaseOutageCount, 1)
    }
}
