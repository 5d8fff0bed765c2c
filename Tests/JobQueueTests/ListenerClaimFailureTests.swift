import Foundation
@testable import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

/// The claim a worker runs on its LISTEN connection as a notification arrives fails —
/// its server process is terminated, or it runs into a lock timeout — while it waits
/// for a lock the test holds: the jobs are still run by the producer, each exactly
/// once, and the worker goes on claiming on its (new) LISTEN connection.
final class ListenerClaimFailureTests: XCTestCase {
    /// Holds, in an open transaction, the lock every claim needs to draw its lease id
    /// (`nextval` on `queue.lease_seq` waits for `ALTER SEQUENCE`); enqueueing does not
    /// need it. Rolled back by `release`: nothing changes.
    private final class LeaseSequenceLock {
        private let connection: PostgresConnection
        init() throws {
            connection = try TestDatabase.connect()
            _ = try connection.execute("BEGIN")
            _ = try connection.execute("ALTER SEQUENCE queue.lease_seq NO CYCLE")
        }
        func release() throws { _ = try connection.execute("ROLLBACK") }
    }

    private struct Listening {
        let fixture: QueueFixture
        let worker: JobWorker
        /// The application name of the worker's LISTEN session.
        let sessionName: String
        let ran: Recorder<Int64>
        let lines: Recorder<String>

        var evidence: String { lines.all.suffix(30).joined(separator: "\n") }

        /// The server process of the listener's claim while it waits for a lock.
        func waitingClaim() async throws -> Int32? {
            try await fixture.pool.query(
                """
                SELECT pid FROM pg_stat_activity
                WHERE application_name = $1 AND wait_event_type = 'Lock' AND query LIKE $2 || '%'
                """, [sessionName, JobClaimer.onNotificationMarker]
            ).first?.decode(0, as: Int32.self)
        }

        /// The LISTEN session's server process (nil while it reconnects).
        func listenSession() async throws -> Int32? {
            try await fixture.pool.query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1", [sessionName]
            ).first?.decode(0, as: Int32.self)
        }

        /// Every job of the queue completed, each in its first attempt, and run once.
        func assertEachRanOnce(_ ids: [Int64], file: StaticString = #filePath, line: UInt = #line) async throws {
            let done = try await fixture.eventually { try await fixture.counts() == ["completed": ids.count] }
            let rows = try await fixture.pool.query(
                "SELECT id, state, attempt FROM queue.jobs WHERE queue = $1 ORDER BY id", [fixture.queue]
            ).rows.map { row in
                let (id, state, attempt) = try row.decode((Int64, String, Int32).self)
                return "\(id):\(state):\(attempt)"
            }
            XCTAssertTrue(done, "not every job completed: \(rows)\n\(evidence)", file: file, line: line)
            XCTAssertEqual(
                rows.filter { !$0.hasSuffix(":completed:1") }, [], "claimed more than once:\n\(evidence)", file: file, line: line)
            let counts = Dictionary(grouping: ran.all, by: { $0 }).mapValues(\.count)
            XCTAssertEqual(Set(counts.keys), Set(ids), "jobs run: \(counts)", file: file, line: line)
            XCTAssertEqual(counts.values.filter { $0 > 1 }.count, 0, "run twice: \(counts)", file: file, line: line)
        }

        /// Enqueues single jobs, each run before the next, until one is claimed on the
        /// LISTEN connection; returns their ids.
        func enqueueUntilAListenerClaim(after claims: Int) async throws -> [Int64] {
            var ids: [Int64] = []
            for number in 0..<50 where worker.listenerClaimCount <= claims {
                let job = try await fixture.client.enqueue(
                    try JobRequest(Payload(number: number, label: ""), queue: fixture.queue))
                ids.append(job.id)
                let done = try await fixture.eventually { ran.all.contains(job.id) }
                XCTAssertTrue(done, "job \(job.id) did not run:\n\(evidence)")
            }
            return ids
        }
    }

    /// A worker on the test database with an application name of its own, whose
    /// connections carry `options` (libpq's `options`, e.g. `-c lock_timeout=…`), and
    /// that LISTENs as `listenRole` if given.
    private func listeningWorker(options: String? = nil, listenRole: String? = nil) throws -> Listening {
        let fixture = try QueueFixture()
        let ran = Recorder<Int64>()
        let lines = Recorder<String>()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, context in ran.append(context.job.id) }
        var database = fixture.configuration
        database.applicationName = TestDatabase.uniqueName("lc")
        if let options {
            let encoded = options.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? options
            database.conninfo += (database.conninfo.contains("?") ? "&" : "?") + "options=" + encoded
        }
        let settings = WorkerConfiguration(
            queues: [fixture.queue: 2], workerID: TestDatabase.uniqueName("worker"), pollInterval: .milliseconds(200),
            leaseDuration: .seconds(30), rescueInterval: .seconds(60), stageInterval: .seconds(60),
            shutdownGracePeriod: .seconds(5))
        var listenDatabase: PostgresConfiguration?
        if let listenRole {
            listenDatabase = database
            listenDatabase?.conninfo = try PostgresPrograms.url(as: listenRole)
        }
        let worker = try JobWorker(
            database: database, listenDatabase: listenDatabase, handlers: handlers, configuration: settings,
            log: JobLog(minimumLevel: .info, sink: { lines.append($0) }))
        return Listening(
            fixture: fixture, worker: worker, sessionName: database.applicationName + JobWorker.listenSessionNameSuffix,
            ran: ran, lines: lines)
    }

    /// Rounds of: hold the lease sequence, enqueue five jobs in one statement, and wait
    /// for the listener's claim of them to wait for the lock; then `fail` it and let
    /// go. A round where the producer claimed instead (the listener's copy of the
    /// queue's settings was too old to claim) is let go and repeated. Each round ends
    /// when every job so far (`ids`, these rounds' added) ran once. Returns the server
    /// process whose claim failed.
    private func failAListenerClaim(
        _ listening: Listening, ids: inout [Int64], _ fail: (Int32) async throws -> Void
    ) async throws -> Int32? {
        for round in 0..<10 {
            let lock = try LeaseSequenceLock()
            let jobs = try await listening.fixture.client.enqueue(
                try (0..<5).map { try JobRequest(Payload(number: round * 10 + $0, label: ""), queue: listening.fixture.queue) })
            ids += jobs.map(\.id)
            var pid: Int32?
            _ = try await listening.fixture.eventually(timeout: .seconds(5)) {
                pid = try await listening.waitingClaim()
                return pid != nil
            }
            if let pid { try await fail(pid) }
            try lock.release()
            try await listening.assertEachRanOnce(ids)
            if pid != nil { return pid }
        }
        return nil
    }

    func testAListenerClaimWhoseServerProcessIsTerminatedLeavesTheJobsToTheProducer() async throws {
        let listening = try listeningWorker()
        let fixture = listening.fixture
        try await listening.worker.running {
            var ids = try await listening.enqueueUntilAListenerClaim(after: 0)
            let pid = try await failAListenerClaim(listening, ids: &ids) { pid in
                let terminated = try await fixture.pool.query("SELECT pg_terminate_backend($1)", [pid]).scalar(Bool.self)
                XCTAssertTrue(terminated, "pg_terminate_backend(\(pid))")
            }
            let killed = try XCTUnwrap(pid, "the listener never claimed while the lock was held:\n\(listening.evidence)")
            let relistened = try await fixture.eventually {
                let session = try await listening.listenSession()
                return session != nil && session != killed
            }
            XCTAssertTrue(relistened, "no new LISTEN session after \(killed) was terminated:\n\(listening.evidence)")
            let claims = listening.worker.listenerClaimCount
            ids += try await listening.enqueueUntilAListenerClaim(after: claims)
            XCTAssertGreaterThan(
                listening.worker.listenerClaimCount, claims, "no claim on the new LISTEN connection:\n\(listening.evidence)")
            try await listening.assertEachRanOnce(ids)
        }
    }

    /// The listener's role may LISTEN but not claim: that failure would repeat, so after
    /// the first one the producers claim every notified job, each once, and the
    /// listener stops trying (one warning, not one per notification).
    func testAListenerWhoseRoleMayNotClaimLeavesClaimingToTheProducers() async throws {
        let role = TestDatabase.uniqueName("listen_only")
        let admin = try TestDatabase.connect()
        _ = try admin.execute("CREATE ROLE \(role) LOGIN")
        let listening = try listeningWorker(listenRole: role)
        let fixture = listening.fixture
        var ids: [Int64] = []
        var refusals: [String] { listening.lines.all.filter { $0.contains("42501") } }
        try await listening.worker.running {
            let listens = try await fixture.eventually { try await listening.listenSession() != nil }
            XCTAssertTrue(listens, "the listener never connected:\n\(listening.evidence)")
            // Single jobs until the listener tried to claim one (it claims only while its
            // copy of the queue's settings is fresh), then three more.
            var more = 3
            for number in 0..<30 where more > 0 {
                if !refusals.isEmpty { more -= 1 }
                let job = try await fixture.client.enqueue(try JobRequest(Payload(number: number, label: ""), queue: fixture.queue))
                ids.append(job.id)
                try await listening.assertEachRanOnce(ids)
            }
        }
        let gone = try await fixture.eventually {
            try await fixture.pool.query("SELECT count(*)::int8 FROM pg_stat_activity WHERE usename = $1", [role])
                .scalar(Int64.self) == 0
        }
        XCTAssertTrue(gone, "the listener's session outlived the worker")
        _ = try admin.execute("DROP ROLE \(role)")
        XCTAssertEqual(listening.worker.listenerClaimCount, 0, listening.evidence)
        XCTAssertEqual(refusals.count, 1, "one warning for a failure that repeats:\n\(listening.evidence)")
    }

    /// The claim fails on a connection that stays open (lock timeout): the producer
    /// runs the jobs, and the next notification is claimed on the listener again — a
    /// passing timeout does not end claiming there for the life of the connection.
    func testAListenerClaimThatTimesOutLeavesTheJobsToTheProducerAndClaimsThereAgain() async throws {
        let listening = try listeningWorker(options: "-c lock_timeout=3000")
        let fixture = listening.fixture
        try await listening.worker.running {
            var ids = try await listening.enqueueUntilAListenerClaim(after: 0)
            let session = try await listening.listenSession()
            let pid = try await failAListenerClaim(listening, ids: &ids) { pid in
                let timedOut = try await fixture.eventually { try await listening.waitingClaim() == nil }
                XCTAssertTrue(timedOut, "the listener's claim still waits for the lock:\n\(listening.evidence)")
            }
            XCTAssertNotNil(pid, "the listener never claimed while the lock was held:\n\(listening.evidence)")
            XCTAssertTrue(
                listening.lines.all.contains { $0.contains("55P03") }, "no lock timeout reported:\n\(listening.evidence)")
            let claims = listening.worker.listenerClaimCount
            ids += try await listening.enqueueUntilAListenerClaim(after: claims)
            XCTAssertGreaterThan(
                listening.worker.listenerClaimCount, claims, "no claim on the listener after the timeout:\n\(listening.evidence)")
            let sessionAfter = try await listening.listenSession()
            XCTAssertEqual(sessionAfter, session, "the same LISTEN connection throughout")
            try await listening.assertEachRanOnce(ids)
        }
    }
}
