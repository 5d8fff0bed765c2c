import Foundation
@testable import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

/// The heartbeat warns "lease lost" and stops the handler only when the lease really
/// was lost (another attempt owns the job), never because the attempt's own outcome
/// ended it while the heartbeat ran. Each race is driven step by step: the test holds
/// the handler, the outcome write and the heartbeat at the points that matter, with
/// the worker's parts assembled by hand so no loop of its own runs meanwhile.
final class LeaseKeeperTests: XCTestCase {
    /// What a worker's heartbeat sees, without the worker's loops: the test decides
    /// when the keeper renews and when the acknowledger writes (`drain`).
    private struct Parts {
        let environment: WorkerEnvironment
        let keeper: LeaseKeeper
        let lines: Recorder<String>
        var executor: AttemptExecutor { AttemptExecutor(environment: environment) }

        var leaseLostWarnings: [String] { lines.all.filter { $0.contains("lease lost; stopping the handler") } }
        var evidence: String { lines.all.suffix(20).joined(separator: "\n") }
    }

    private func parts(_ fixture: QueueFixture, _ handlers: JobHandlerRegistry) -> Parts {
        let lines = Recorder<String>()
        let log = JobLog(minimumLevel: .debug, sink: { lines.append($0) })
        let configuration = WorkerConfiguration(
            queues: [fixture.queue: 1], workerID: TestDatabase.uniqueName("worker"), leaseDuration: .seconds(30))
        let outage = DatabaseOutage(log: log)
        let environment = WorkerEnvironment(
            configuration: configuration, database: fixture.pool, registry: handlers, running: RunningJobs(),
            acknowledger: JobAcknowledger(
                database: fixture.pool, workerID: configuration.workerID, log: log, outage: outage),
            metrics: WorkerMetrics(), outage: outage, log: log)
        let keeper = LeaseKeeper(
            database: fixture.pool, running: environment.running, configuration: configuration, log: log, outage: outage)
        return Parts(environment: environment, keeper: keeper, lines: lines)
    }

    /// Enqueues and claims one job as the worker would, registered as running.
    private func claimOne(_ fixture: QueueFixture, _ parts: Parts) async throws -> LeasedAttempt {
        _ = try await fixture.client.enqueue(try JobRequest(Payload(number: 1, label: ""), queue: fixture.queue))
        let jobs = try await JobClaimer.claim(
            queue: fixture.queue, limit: 1, workerID: parts.environment.configuration.workerID, lease: .seconds(30),
            on: fixture.pool)
        let attempt = LeasedAttempt(job: try XCTUnwrap(jobs.first), leaseDeadline: .now + .seconds(30))
        parts.environment.running.add(attempt)
        return attempt
    }

    private func rows(_ fixture: QueueFixture) async throws -> String {
        try await fixture.pool.query(
            "SELECT id, state, attempt, leased_by, lease_id IS NOT NULL FROM queue.jobs WHERE queue = $1 ORDER BY id",
            [fixture.queue]
        ).rows.map { row in
            let (id, state, attempt, leasedBy, leased) = try row.decode((Int64, String, Int32, String?, Bool).self)
            return "\(id) \(state) attempt=\(attempt) leased_by=\(leasedBy ?? "-") leased=\(leased)"
        }.joined(separator: "; ")
    }

    /// The handler completes its job in its own transaction on a queue that deletes
    /// completed jobs, while a heartbeat's renewal waits for that transaction's row
    /// lock: the renewal then finds no row. The attempt is the one that completed it,
    /// so nothing is reported lost and the handler is not stopped (it still has work
    /// to do after its completion).
    func testAJobCompletingInItsOwnTransactionWhileAHeartbeatRunsIsNotReportedLost() async throws {
        let fixture = try QueueFixture()
        try await JobAdministration(database: fixture.pool).setKeepCompleted(fixture.queue, false)
        let rowLocked = Mutex(false)
        let commit = DispatchSemaphore(value: 0)
        let mayReturn = Gate()
        let cancelledAfterCompleting = Mutex<Bool?>(nil)
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, context in
            try await context.completeInTransaction { connection in
                // The row lock the completion takes anyway, taken first so the test can
                // start the heartbeat while this transaction holds it.
                // (The queue named too: on Citus a locking read must name the shard.)
                try connection.execute(
                    "SELECT 1 FROM queue.jobs WHERE queue = $1 AND id = $2 FOR UPDATE",
                    [context.job.queue, context.job.id])
                rowLocked.withLock { $0 = true }
                commit.wait()
            }
            await mayReturn.wait()
            cancelledAfterCompleting.withLock { $0 = Task.isCancelled }
        }
        let parts = parts(fixture, handlers)
        let attempt = try await claimOne(fixture, parts)
        let run = Task { await parts.executor.execute(attempt) }
        let locked = try await fixture.eventually { rowLocked.withLock { $0 } }
        XCTAssertTrue(locked, "the handler did not reach its transaction: \(parts.evidence)")

        // On one server the renewal's session waits for the lock; on a Citus
        // coordinator the wait is on the worker node holding the shard, which
        // citus_lock_waits reports with the coordinator's statement.
        let citus = try TestDatabase.isCitus
        let waitingRenewals = citus
            ? "SELECT count(*)::int8 FROM citus_lock_waits WHERE blocked_statement LIKE $1"
            : "SELECT count(*)::int8 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1"
        let heartbeat = Task { await parts.keeper.renewOnce() }
        let renewalWaits = try await fixture.eventually {
            let renewal = "%SET lease_expires_at = now() + $3%"
            return try await fixture.pool.query(waitingRenewals, [renewal]).scalar(Int64.self) > 0
        }
        XCTAssertTrue(renewalWaits, "the heartbeat's renewal never waited for the completing transaction")
        commit.signal()
        await heartbeat.value
        let afterHeartbeat = try await fixture.counts()
        XCTAssertEqual(afterHeartbeat, [:], "the completion deleted the row before the renewal read it")
        mayReturn.open()
        await run.value

        XCTAssertEqual(parts.leaseLostWarnings, [], "a completion reported as a lost lease:\n\(parts.evidence)")
        XCTAssertNil(attempt.stopReason, "the heartbeat stopped a handler that had completed its job")
        XCTAssertEqual(cancelledAfterCompleting.withLock { $0 }, false, "the handler was cancelled after completing")
        XCTAssertTrue(
            parts.lines.all.contains { $0.contains("msg=\"job completed\"") }, "not logged as completed:\n\(parts.evidence)")
    }

    /// An attempt's outcome handed to the acknowledger is written (the completion
    /// deletes the row) before the slot removes the attempt from the running
    /// registry, and a heartbeat runs in between. Here the outcome is the one the slot
    /// gives an attempt whose cancel request came before it started (its handler never
    /// ran). The attempt ended its own lease: nothing is reported lost.
    func testAnOutcomeWrittenBeforeTheSlotLetsGoIsNotReportedLost() async throws {
        let fixture = try QueueFixture()
        try await JobAdministration(database: fixture.pool).setKeepCompleted(fixture.queue, false)
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, _ in XCTFail("the cancelled attempt must not run") }
        let parts = parts(fixture, handlers)
        let attempt = try await claimOne(fixture, parts)
        attempt.stop(.cancelRequested)
        // What `AttemptExecutor.execute` does for it, up to its last step (removing it
        // from the running registry): the outcome handed over, then written.
        await parts.executor.finish(attempt, .cancelled(reason: "cancelled on request before it started"))
        await parts.environment.acknowledger.drain(timeout: .seconds(30))
        let written = try await rows(fixture)
        XCTAssertTrue(written.contains("cancelled attempt=1") && written.contains("leased=false"), written)

        await parts.keeper.renewOnce()
        XCTAssertEqual(parts.leaseLostWarnings, [], "an outcome written reported as a lost lease:\n\(parts.evidence)")
        XCTAssertEqual(attempt.stopReason, .cancelRequested)
    }

    /// The real loss: the lease lapsed, the job was rescued and another worker claimed
    /// it. The heartbeat warns and stops the handler; the old attempt writes nothing
    /// and the new owner's lease is untouched.
    func testALeaseTakenByAnotherWorkerStopsTheHandlerAndIsReported() async throws {
        let fixture = try QueueFixture()
        let started = Mutex(false)
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, _ in
            started.withLock { $0 = true }
            await Gate().wait(orUntilCancelled: true)
        }
        let parts = parts(fixture, handlers)
        let attempt = try await claimOne(fixture, parts)
        let run = Task { await parts.executor.execute(attempt) }
        let running = try await fixture.eventually { started.withLock { $0 } }
        XCTAssertTrue(running, "the handler did not start: \(parts.evidence)")

        _ = try await fixture.pool.query(
            "UPDATE queue.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [attempt.job.id])
        let rescued = try await JobMaintenance.rescueLapsedLeases(on: fixture.pool)
        let afterRescue = try await rows(fixture)
        XCTAssertTrue(rescued.contains { $0.id == attempt.job.id }, "not rescued: \(afterRescue)")
        _ = try await fixture.pool.query("UPDATE queue.jobs SET run_at = now() WHERE id = $1", [attempt.job.id])
        _ = try await JobMaintenance.stageDueJobs(on: fixture.pool)
        let other = try await JobClaimer.claim(
            queue: fixture.queue, limit: 1, workerID: "other", lease: .seconds(30), on: fixture.pool)
        let afterClaim = try await rows(fixture)
        XCTAssertEqual(other.map(\.id), [attempt.job.id], "the other worker did not take the job: \(afterClaim)")

        await parts.keeper.renewOnce()
        XCTAssertEqual(attempt.stopReason, .leaseLost, parts.evidence)
        XCTAssertEqual(parts.leaseLostWarnings.count, 1, parts.evidence)
        XCTAssertTrue(parts.leaseLostWarnings.first?.contains("job_id=\(attempt.job.id)") ?? false, parts.evidence)
        await run.value
        await parts.environment.acknowledger.drain(timeout: .seconds(30))
        let fenced = await parts.environment.acknowledger.fencedCount
        XCTAssertEqual(fenced, 0, "the stopped attempt wrote no outcome")
        let after = try await rows(fixture)
        XCTAssertEqual(after, "\(attempt.job.id) running attempt=2 leased_by=other leased=true")
    }
}

/// Opened once by the test; a handler waits for it (or, if asked, until its task is
/// cancelled).
final class Gate: Sendable {
    private struct State {
        var open = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }
    private let state = Mutex(State())

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait(orUntilCancelled: Bool = false) async {
        let waiter = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.open || (orUntilCancelled && Task.isCancelled) { return true }
                    state.waiters[waiter] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            guard orUntilCancelled else { return }
            state.withLock { $0.waiters.removeValue(forKey: waiter) }?.resume()
        }
    }
}
