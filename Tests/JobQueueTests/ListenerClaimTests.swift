import Foundation
@testable import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

/// A NOTIFY for an idle queue is claimed on the worker's LISTEN connection
/// (`QueueProducer.claimAnnounced`), sharing the slots with the producer's own claims.
final class ListenerClaimTests: XCTestCase {
    /// Enqueues single jobs one after another, each run before the next, until one was
    /// claimed on the listener connection (the first may be sent before the listener
    /// connected, a poll then picks it up; or find the queue's settings over a second
    /// old, the producer then claims and refreshes them). Returns the job ids enqueued.
    private func enqueueUntilAListenerClaim(
        _ fixture: QueueFixture, _ worker: JobWorker, ran: Recorder<Int64>
    ) async throws -> [Int64] {
        var ids: [Int64] = []
        for number in 0..<50 where worker.listenerClaimCount == 0 {
            let job = try await fixture.client.enqueue(try JobRequest(Payload(number: number, label: ""), queue: fixture.queue))
            ids.append(job.id)
            let done = try await fixture.eventually { ran.all.contains(job.id) }
            let counts = try await fixture.counts()
            XCTAssertTrue(done, "job \(job.id) did not run: \(counts)")
        }
        return ids
    }

    func testAnIdleWorkerStartsANotifiedJobClaimedOnItsListenerConnection() async throws {
        let fixture = try QueueFixture()
        let ran = Recorder<Int64>()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, context in ran.append(context.job.id) }
        // Polls rarely: an idle worker's job is claimed as its notification arrives.
        let worker = try fixture.worker(handlers) { $0.pollInterval = .seconds(5); $0.stageInterval = .seconds(60) }
        let ids = try await worker.running {
            let ids = try await enqueueUntilAListenerClaim(fixture, worker, ran: ran)
            _ = try await fixture.eventually { try await fixture.counts() == ["completed": ids.count] }
            return ids
        }
        XCTAssertGreaterThan(worker.listenerClaimCount, 0, "no job of \(ids.count) was claimed on the listener connection")
        XCTAssertEqual(ran.all.sorted(), ids.sorted(), "every job ran exactly once")
        for id in ids {
            let row = try await fixture.row(id)
            XCTAssertEqual(row.state, "completed", "job \(id)")
            XCTAssertEqual(row.attempt, 1, "job \(id) claimed once")
        }
        let metrics = await worker.metricsText()
        XCTAssertTrue(
            metrics.contains("queue_worker_listener_claims_total \(worker.listenerClaimCount)"),
            "the count is exposed: \(metrics)")
    }

    /// A job claimed on the listener's connection runs its handler with exactly the
    /// enqueued arguments, and arguments the type refuses (written around the client's
    /// check) discard the job with the refusal, as on the producer's path. Jobs go one at a time;
    /// each is counted as the listener's when the listener's claim count grew while it
    /// ran, until both a good and a refused job went that way.
    func testArgumentsDecodedOnTheListenerReachTheHandlerAndRefusalsStillDiscard() async throws {
        let fixture = try QueueFixture()
        let received = Recorder<String>()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { arguments, _ in received.append("\(arguments.number):\(arguments.label)") }
        let worker = try fixture.worker(handlers) { $0.pollInterval = .seconds(5); $0.stageInterval = .seconds(60) }
        var listenerGood = 0
        var listenerRefused = 0
        var evidence: [String] = []
        try await worker.running {
            for number in 0..<60 where listenerGood == 0 || listenerRefused == 0 {
                let claimsBefore = worker.listenerClaimCount
                let refused = number % 2 == 1
                let id: Int64
                if refused {
                    // Stored as a client of another language could: a field Payload lacks.
                    id = try await fixture.pool.query(
                        """
                        WITH job AS (INSERT INTO queue.jobs (kind, queue, args) VALUES ($1, $2, $3::jsonb) RETURNING id, queue)
                        SELECT id FROM job GROUP BY id, queue HAVING count(pg_notify('\(JobChannel.name)', queue)) = 1
                        """,
                        [Payload.kind, fixture.queue, "{\"number\": \(number), \"label\": \"x\", \"colour\": \"red\"}"]
                    ).scalar(Int64.self)
                } else {
                    id = try await fixture.client.enqueue(
                        try JobRequest(Payload(number: number, label: "n\(number)"), queue: fixture.queue)).id
                }
                let settled = try await fixture.eventually {
                    let state = try await fixture.row(id).state
                    return state == (refused ? "discarded" : "completed")
                }
                let row = try await fixture.row(id)
                let counts = try await fixture.counts()
                XCTAssertTrue(settled, "job \(id) (refused: \(refused)) did not settle: \(row), \(counts)")
                let onListener = worker.listenerClaimCount > claimsBefore
                evidence.append("\(id):\(row.state):listener=\(onListener)")
                if refused {
                    XCTAssertEqual(row.attempt, 1, "job \(id) refused once: \(row)")
                    XCTAssertTrue(
                        row.errors.last?.contains("unknown field \"colour\"") == true,
                        "job \(id) discarded with the refusal: \(row.errors)")
                    if onListener { listenerRefused += 1 }
                } else {
                    _ = try await fixture.eventually { received.all.contains("\(number):n\(number)") }
                    XCTAssertTrue(received.all.contains("\(number):n\(number)"), "job \(id)'s arguments: \(received.all)")
                    if onListener { listenerGood += 1 }
                }
            }
        }
        XCTAssertGreaterThan(listenerGood, 0, "no good job was claimed on the listener: \(evidence)")
        XCTAssertGreaterThan(listenerRefused, 0, "no refused job was claimed on the listener: \(evidence)")
        XCTAssertEqual(received.all.count, Set(received.all).count, "no handler ran twice: \(received.all)")
    }

    /// Many notifications while slots free up and the producer claims: the listener
    /// claims only for idle slots it reserved, so handlers never run beyond the
    /// queue's concurrency, and every job runs once.
    func testConcurrencyHoldsWhenNotificationsRaceTheProducersClaims() async throws {
        let fixture = try QueueFixture()
        let ran = Recorder<Int64>()
        let gauge = ConcurrencyGauge()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, context in
            gauge.enter()
            defer { gauge.leave() }
            ran.append(context.job.id)
            try await Task.sleep(for: .milliseconds(2))
        }
        let concurrency = 3
        let worker = try fixture.worker(handlers, concurrency: concurrency) { $0.prefetch = 4 }
        var ids: [Int64] = []
        try await worker.running {
            ids = try await enqueueUntilAListenerClaim(fixture, worker, ran: ran)
            // Four enqueuers, one job and one NOTIFY per call.
            let burst = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for sender in 0..<4 {
                    group.addTask {
                        var sent: [Int64] = []
                        for number in 0..<50 {
                            let job = try await fixture.client.enqueue(
                                try JobRequest(Payload(number: sender * 100 + number, label: ""), queue: fixture.queue))
                            sent.append(job.id)
                        }
                        return sent
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            ids += burst
            let done = try await fixture.eventually { try await fixture.counts() == ["completed": ids.count] }
            let counts = try await fixture.counts()
            XCTAssertTrue(done, "\(counts)")
        }
        XCTAssertLessThanOrEqual(gauge.peak, concurrency, "handlers running at once")
        XCTAssertEqual(ran.all.count, ids.count, "every job ran once")
        XCTAssertEqual(Set(ran.all), Set(ids))
    }

    /// Shutdown while notifications keep arriving (claims on the listener connection in
    /// flight, or handed over and not started): nothing stays leased; every job either
    /// completed, ran once, or is back in the queue with its attempt given back.
    func testShutdownWhileNotificationsArriveLeavesNothingLeased() async throws {
        let fixture = try QueueFixture()
        let ran = Recorder<Int64>()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, context in
            ran.append(context.job.id)
            try await Task.sleep(for: .milliseconds(5))
        }
        let worker = try fixture.worker(handlers, concurrency: 2) {
            $0.pollInterval = .seconds(5)
            $0.shutdownGracePeriod = .seconds(10)
        }
        let sent = Recorder<Int64>()
        var ids: [Int64] = []
        try await worker.running {
            ids = try await enqueueUntilAListenerClaim(fixture, worker, ran: ran)
            Task {
                for number in 0..<200 {
                    guard let job = try? await fixture.client.enqueue(
                        try JobRequest(Payload(number: number, label: ""), queue: fixture.queue))
                    else { return }
                    sent.append(job.id)
                }
            }
            _ = try await fixture.eventually { sent.all.count >= 20 }
            // The body returns: the worker shuts down while the sender goes on.
        }
        // Stop sending, then read every row of the queue.
        _ = try await fixture.eventually { sent.all.count == 200 }
        ids += sent.all
        let rows = try await fixture.pool.query(
            "SELECT id, state, attempt FROM queue.jobs WHERE queue = $1 ORDER BY id", [fixture.queue])
        var evidence: [String] = []
        for row in rows.rows {
            let (id, state, attempt) = try row.decode((Int64, String, Int32).self)
            evidence.append("\(id):\(state):\(attempt)")
            XCTAssertNotEqual(state, "running", "job \(id) left leased after shutdown")
            if state == "available" { XCTAssertEqual(attempt, 0, "job \(id) released with its attempt given back") }
            if state == "completed" { XCTAssertEqual(attempt, 1, "job \(id) claimed once") }
        }
        let ranCounts = Dictionary(grouping: ran.all, by: { $0 }).mapValues(\.count)
        XCTAssertEqual(ranCounts.values.filter { $0 > 1 }.count, 0, "no job ran twice: \(ranCounts.filter { $0.value > 1 })")
        XCTAssertEqual(rows.rows.count, ids.count, "\(evidence.suffix(20))")
    }
}
