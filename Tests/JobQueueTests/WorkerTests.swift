import Foundation
@testable import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

/// Collects values from handlers running on other tasks.
final class Recorder<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}

struct Flaky: JobArguments {
    static let kind = "test.flaky"
    var failures: Int
}

struct Slow: JobArguments {
    static let kind = "test.slow"
    var ms: Int
}

struct Snoozer: JobArguments {
    static let kind = "test.snoozer"
}

struct Quitter: JobArguments {
    static let kind = "test.quitter"
}

final class WorkerTests: XCTestCase {
    func testRunsJobsWithTypedArguments() async throws {
        let fixture = try QueueFixture()
        let seen = Recorder<Int>()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { arguments, _ in seen.append(arguments.number) }
        let requests = try (0..<200).map { try JobRequest(Payload(number: $0, label: "x"), queue: fixture.queue) }
        try await fixture.client.enqueue(requests)
        try await fixture.worker(handlers).running {
            let done = try await fixture.eventually { try await fixture.counts() == ["completed": 200] }
            let counts = try await fixture.counts()
            XCTAssertTrue(done, "\(counts)")
        }
        XCTAssertEqual(seen.all.sorted(), Array(0..<200))
    }

    func testUnknownKindAndUndecodableArgumentsAreDiscardedAndTheWorkerGoesOn() async throws {
        let fixture = try QueueFixture()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, _ in }
        let unknown = try await fixture.client.enqueue(fixture.request("test.nobody-handles-this"))
        let wrongType = try await fixture.client.enqueue(fixture.request("test.payload", #"{"number": "seven", "label": "x"}"#))
        let missing = try await fixture.client.enqueue(fixture.request("test.payload", #"{"label": "x"}"#))
        let good = try await fixture.client.enqueue(try JobRequest(Payload(number: 1, label: "ok"), queue: fixture.queue))
        try await fixture.worker(handlers).running {
            _ = try await fixture.eventually {
                let counts = try await fixture.counts()
                return counts["available", default: 0] == 0 && counts["running", default: 0] == 0
            }
        }
        let unknownRow = try await fixture.row(unknown.id)
        XCTAssertEqual(unknownRow.state, "discarded")
        XCTAssertTrue(unknownRow.errors.first?.contains("unknown job kind \"test.nobody-handles-this\"") ?? false, "\(unknownRow.errors)")
        XCTAssertTrue(unknownRow.errors.first?.contains("test.payload") ?? false, "lists the kinds it knows")
        let wrongRow = try await fixture.row(wrongType.id)
        XCTAssertEqual(wrongRow.state, "discarded")
        XCTAssertTrue(wrongRow.errors.first?.contains("number") ?? false, "\(wrongRow.errors)")
        XCTAssertEqual(wrongRow.attempt, 1, "bad input is not retried")
        let missingRow = try await fixture.row(missing.id)
        XCTAssertTrue(missingRow.errors.first?.contains("missing field \"number\"") ?? false, "\(missingRow.errors)")
        let goodRow = try await fixture.row(good.id)
        XCTAssertEqual(goodRow.state, "completed")
    }

    func testFailuresRetryWithBackoffAndKeepEveryError() async throws {
        let fixture = try QueueFixture()
        var handlers = JobHandlerRegistry()
        handlers.register(Flaky.self, options: JobKindOptions(retryPolicy: RetryPolicy(baseDelay: .milliseconds(100)))) {
            arguments, context in
            if context.job.attempt <= arguments.failures {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "boom \(context.job.attempt)"])
            }
        }
        let recovers = try await fixture.client.enqueue(
            try JobRequest(Flaky(failures: 2), queue: fixture.queue, maxAttempts: 5))
        let givesUp = try await fixture.client.enqueue(
            try JobRequest(Flaky(failures: 10), queue: fixture.queue, maxAttempts: 3))
        try await fixture.worker(handlers).running {
            let settled = try await fixture.eventually {
                let counts = try await fixture.counts()
                return counts["completed"] == 1 && counts["discarded"] == 1
            }
            let counts = try await fixture.counts()
            XCTAssertTrue(settled, "\(counts)")
        }
        let recovered = try await fixture.row(recovers.id)
        XCTAssertEqual(recovered.state, "completed")
        XCTAssertEqual(recovered.attempt, 3)
        XCTAssertEqual(recovered.errors.count, 2)
        let discarded = try await fixture.row(givesUp.id)
        XCTAssertEqual(discarded.state, "discarded")
        XCTAssertEqual(discarded.attempt, 3)
        XCTAssertEqual(discarded.errors.count, 3, "one error per attempt")
        // The history records attempt number and worker too.
        let history = try await fixture.pool.query(
            "SELECT e->>'attempt', e->>'worker', e->>'at' FROM queue.jobs, jsonb_array_elements(errors) e WHERE id = $1",
            [givesUp.id])
        XCTAssertEqual(try history.rows.map { try $0.decode(0, as: String.self) }, ["1", "2", "3"])
        XCTAssertTrue(try history.rows.allSatisfy { try !$0.decode(1, as: String.self).isEmpty })
    }

    func testBackoffGrowsAndIsJittered() {
        let policy = RetryPolicy(baseDelay: .seconds(1), maxDelay: .seconds(60), jitter: 0.2)
        XCTAssertEqual(policy.delay(afterAttempt: 1, share: 0), .seconds(1))
        XCTAssertEqual(policy.delay(afterAttempt: 4, share: 0), .seconds(8))
        XCTAssertEqual(policy.delay(afterAttempt: 30, share: 0), .seconds(60), "capped")
        XCTAssertEqual(policy.delay(afterAttempt: 4, share: 1), .milliseconds(9600))
        XCTAssertEqual(policy.delay(afterAttempt: 4, share: -1), .milliseconds(6400))
        // Fifty jobs failing their fifth attempt together: each its own delay, within 16 s ± 20 %.
        let delays = (1...50).map { policy.delay(ofJob: Int64($0), afterAttempt: 5) }
        XCTAssertGreaterThan(Set(delays).count, 40, "jitter spreads retries: \(delays)")
        XCTAssertTrue(delays.allSatisfy { $0 >= .milliseconds(12_800) && $0 <= .milliseconds(19_200) }, "\(delays)")
        // A job's delay is the one its jitter for that attempt predicts.
        let share = JobJitter(jobID: 42, attempt: 5).signedShare
        XCTAssertEqual(
            policy.delay(ofJob: 42, afterAttempt: 5).seconds, 16 * (1 + 0.2 * share), accuracy: 0.001,
            "job 42's fifth retry at its share \(share)")
    }

    func testSnoozeGivesTheAttemptBackAndCancelFromInsideEndsTheJob() async throws {
        let fixture = try QueueFixture()
        var handlers = JobHandlerRegistry()
        let snoozes = Recorder<Int64>()
        handlers.register(Snoozer.self) { _, context in
            if snoozes.all.isEmpty {
                snoozes.append(context.job.id)
                throw JobSnoozed(for: .milliseconds(300))
            }
        }
        handlers.register(Quitter.self) { _, _ in throw JobCancelled("customer withdrew the order") }
        let snoozed = try await fixture.client.enqueue(try JobRequest(Snoozer(), queue: fixture.queue, maxAttempts: 1))
        let quit = try await fixture.client.enqueue(try JobRequest(Quitter(), queue: fixture.queue))
        try await fixture.worker(handlers).running {
            _ = try await fixture.eventually {
                let counts = try await fixture.counts()
                return counts["completed"] == 1 && counts["cancelled"] == 1
            }
        }
        let snoozedRow = try await fixture.row(snoozed.id)
        XCTAssertEqual(snoozedRow.state, "completed", "a snooze did not use up the only attempt")
        XCTAssertEqual(snoozedRow.attempt, 1)
        XCTAssertEqual(snoozedRow.errors, [])
        XCTAssertEqual(snoozes.all, [snoozed.id], "it did snooze once")
        let quitRow = try await fixture.row(quit.id)
        XCTAssertEqual(quitRow.state, "cancelled")
        XCTAssertEqual(quitRow.attempt, 1)
        XCTAssertEqual(quitRow.errors, ["cancelled: customer withdrew the order"])
    }

    func testAHandlerOverItsTimeLimitIsCancelledAndTheAttemptFails() async throws {
        let fixture = try QueueFixture()
        let cancelled = Recorder<Bool>()
        var handlers = JobHandlerRegistry()
        handlers.register(Slow.self, options: JobKindOptions(timeout: .milliseconds(200))) { arguments, _ in
            do {
                try await Task.sleep(for: .milliseconds(arguments.ms))
            } catch {
                cancelled.append(true)
                throw error
            }
        }
        let job = try await fixture.client.enqueue(try JobRequest(Slow(ms: 20_000), queue: fixture.queue, maxAttempts: 1))
        try await fixture.worker(handlers).running {
            _ = try await fixture.eventually { try await fixture.counts()["discarded"] == 1 }
        }
        let row = try await fixture.row(job.id)
        XCTAssertEqual(row.state, "discarded")
        XCTAssertTrue(row.errors.first?.hasPrefix("timed out after 0.2 seconds") ?? false, "\(row.errors)")
        XCTAssertEqual(cancelled.all, [true], "the handler saw the cancellation")
    }

    func testScheduledJobsWaitForTheirTime() async throws {
        let fixture = try QueueFixture()
        let started = Recorder<Date>()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, _ in started.append(Date()) }
        let runAt = Date().addingTimeInterval(1.5)
        try await fixture.client.enqueue(try JobRequest(Payload(number: 1, label: "later"), queue: fixture.queue, runAt: runAt))
        try await fixture.worker(handlers).running {
            _ = try await fixture.eventually { try await fixture.counts()["completed"] == 1 }
        }
        XCTAssertEqual(started.all.count, 1)
        XCTAssertGreaterThanOrEqual(started.all[0].timeIntervalSince(runAt), -0.001, "never before run-at")
    }

    func testCompletingInsideTheHandlersTransactionWritesEffectsOnce() async throws {
        let fixture = try QueueFixture()
        let table = TestDatabase.uniqueName("effects")
        _ = try await fixture.pool.query("CREATE TABLE \(table) (job_id int8 NOT NULL)")
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, context in
            let id = context.job.id
            try await context.completeInTransaction { connection in
                try connection.execute("INSERT INTO \(table) (job_id) VALUES ($1)", [id])
            }
        }
        try await fixture.client.enqueue(
            try (0..<300).map { try JobRequest(Payload(number: $0, label: ""), queue: fixture.queue) })
        try await fixture.worker(handlers, concurrency: 8).running {
            _ = try await fixture.eventually { try await fixture.counts() == ["completed": 300] }
        }
        let effects = try await fixture.pool.query("SELECT count(*)::int8, count(DISTINCT job_id)::int8 FROM \(table)")
        let (total, distinct) = try effects.first!.decode((Int64, Int64).self)
        XCTAssertEqual(total, 300)
        XCTAssertEqual(distinct, 300)
    }

    func testAnIdleListeningWorkerWakesOnNotifyLongBeforeItsPollInterval() async throws {
        let fixture = try QueueFixture()
        let started = Recorder<ContinuousClock.Instant>()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, _ in started.append(.now) }
        let worker = try fixture.worker(handlers) { $0.pollInterval = .seconds(60); $0.stageInterval = .seconds(60) }
        try await worker.running {
            try await Task.sleep(for: .milliseconds(500))  // idle: listening, first poll done
            let enqueued = ContinuousClock.now
            try await fixture.client.enqueue(try JobRequest(Payload(number: 1, label: ""), queue: fixture.queue))
            let ran = try await fixture.eventually(timeout: .seconds(20)) { !started.all.isEmpty }
            XCTAssertTrue(ran, "NOTIFY did not wake the worker (its next poll was a minute away)")
            if let first = started.all.first { XCTAssertLessThan(first - enqueued, .seconds(20)) }
        }
    }

    func testPollingOnlyModeStillRunsEverything() async throws {
        let fixture = try QueueFixture()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, _ in }
        let worker = try fixture.worker(handlers) { $0.listens = false; $0.pollInterval = .milliseconds(100) }
        try await worker.running {
            try await Task.sleep(for: .milliseconds(300))
            try await fixture.client.enqueue(
                try (0..<20).map { try JobRequest(Payload(number: $0, label: ""), queue: fixture.queue) })
            let done = try await fixture.eventually { try await fixture.counts() == ["completed": 20] }
            XCTAssertTrue(done)
        }
    }

    func testShutdownLetsRunningJobsFinishThenReleasesWhatOverrunsTheGracePeriod() async throws {
        let fixture = try QueueFixture()
        let started = Recorder<Int>()
        let finished = Recorder<Int>()
        var handlers = JobHandlerRegistry()
        handlers.register(Slow.self) { arguments, _ in
            started.append(arguments.ms)
            try await Task.sleep(for: .milliseconds(arguments.ms))
            finished.append(arguments.ms)
        }
        let short = try await fixture.client.enqueue(try JobRequest(Slow(ms: 300), queue: fixture.queue, priority: 0))
        let long = try await fixture.client.enqueue(try JobRequest(Slow(ms: 60_000), queue: fixture.queue, priority: 1))
        // A grace period well above the short job, so a loaded machine's late wake-up
        // still finishes it in time; the long one overruns it whatever the load.
        let worker = try fixture.worker(handlers) { $0.shutdownGracePeriod = .seconds(4) }
        try await worker.running {
            // Both handlers started (claimed is not enough: a job claimed but not yet
            // started when the stop comes goes back to the queue unstarted, by design).
            let both = try await fixture.eventually { started.all.count == 2 }
            let counts = try await fixture.counts()
            XCTAssertTrue(both, "both jobs started: \(started.all), \(counts)")
        }
        let shortRow = try await fixture.row(short.id)
        XCTAssertEqual(shortRow.state, "completed", "a job finishing within the grace period completes")
        let longRow = try await fixture.row(long.id)
        XCTAssertEqual(longRow.state, "available", "an overrunning job goes back to the queue")
        XCTAssertEqual(longRow.attempt, 0, "and gets its attempt back")
        XCTAssertEqual(finished.all, [300])
    }

    func testJobsClaimedAheadStayLeasedAndGoBackUnstartedAtShutdown() async throws {
        let fixture = try QueueFixture()
        let started = Recorder<Int>()
        var handlers = JobHandlerRegistry()
        handlers.register(Slow.self) { arguments, _ in
            started.append(arguments.ms)
            try await Task.sleep(for: .milliseconds(arguments.ms))
        }
        let worker = try fixture.worker(handlers, concurrency: 1) {
            $0.prefetch = 3
            // Twelve heartbeats per lease: a rescue here means the heartbeat skipped the
            // claimed-ahead jobs, not that a loaded machine delayed it past a short lease.
            $0.leaseDuration = .seconds(3)
            $0.heartbeatInterval = .milliseconds(250)
            $0.shutdownGracePeriod = .milliseconds(300)
        }
        let long = try await worker.running {
            // Quick jobs first: the worker learns that this queue's jobs are short.
            for _ in 0..<3 { _ = try await fixture.client.enqueue(try JobRequest(Slow(ms: 1), queue: fixture.queue)) }
            _ = try await fixture.eventually { try await fixture.counts()["completed"] == 3 }
            let long = try await fixture.client.enqueue(
                try (0..<5).map { try JobRequest(Slow(ms: 60_000), queue: fixture.queue, priority: $0) })
            // One slot runs a job; three more are claimed ahead; the fifth stays available.
            _ = try await fixture.eventually { try await fixture.counts()["running"] == 4 }
            // Twice the lease: heartbeats renew the waiting claims too, so nothing is rescued.
            try await Task.sleep(for: .seconds(6))
            let counts = try await fixture.counts()
            XCTAssertEqual(counts["running"], 4, "\(counts)")
            XCTAssertEqual(counts["available"], 1, "\(counts)")
            XCTAssertEqual(started.all.filter { $0 == 60_000 }.count, 1, "only one slot, so one long job started")
            for job in long.prefix(4) {
                let row = try await fixture.row(job.id)
                XCTAssertEqual(row.attempt, 1)
                XCTAssertEqual(row.errors, [], "claimed once, never rescued")
            }
            return long
        }
        for job in long {
            let row = try await fixture.row(job.id)
            XCTAssertEqual(row.state, "available", "released at shutdown")
            XCTAssertEqual(row.attempt, 0, "with the attempt given back")
        }
        XCTAssertEqual(started.all.filter { $0 == 60_000 }.count, 1, "jobs waiting in the buffer were never started")
    }
}

final class WorkerCancellationTests: XCTestCase {
    /// Cancelling the task that runs a worker stops it without `shutdown()`: it does
    /// not wait out the grace period, and the job it was running goes back to the
    /// queue with its attempt given back.
    func testCancellingRunsTaskStopsTheWorkerPromptlyAndReleasesItsJob() async throws {
        let fixture = try QueueFixture()
        var handlers = JobHandlerRegistry()
        handlers.register(Slow.self) { arguments, _ in try await Task.sleep(for: .milliseconds(arguments.ms)) }
        let job = try await fixture.client.enqueue(try JobRequest(Slow(ms: 600_000), queue: fixture.queue))
        let worker = try fixture.worker(handlers) { $0.shutdownGracePeriod = .seconds(120) }
        let ended = Recorder<Bool>()
        let run = Task {
            defer { ended.append(true) }
            try await worker.run()
        }
        let started = try await fixture.eventually { try await fixture.counts()["running"] == 1 }
        XCTAssertTrue(started)
        run.cancel()
        // Far below the grace period and the job's length: a worker that ignored its
        // cancellation would still be running here.
        let stopped = try await fixture.eventually(timeout: .seconds(30)) { !ended.all.isEmpty }
        if !stopped { worker.shutdown() }
        XCTAssertTrue(stopped, "run() returned after its task was cancelled")
        let row = try await fixture.row(job.id)
        XCTAssertEqual(row.state, "available", "the running job was released")
        XCTAssertEqual(row.attempt, 0, "with its attempt given back")
    }

    /// `running { }` passes its caller's cancellation on to the workers: a cancelled
    /// test or tool does not wait out the grace period either.
    func testCancellingTheCallerOfRunningStopsItsWorkersPromptly() async throws {
        let fixture = try QueueFixture()
        var handlers = JobHandlerRegistry()
        handlers.register(Slow.self) { arguments, _ in try await Task.sleep(for: .milliseconds(arguments.ms)) }
        let job = try await fixture.client.enqueue(try JobRequest(Slow(ms: 600_000), queue: fixture.queue))
        let workers = try (0..<2).map { _ in try fixture.worker(handlers) { $0.shutdownGracePeriod = .seconds(120) } }
        let ended = Recorder<Bool>()
        let caller = Task {
            defer { ended.append(true) }
            try await JobWorker.running(workers) {
                // Outlives the test unless cancelled.
                try? await Task.sleep(for: .seconds(600))
            }
        }
        let started = try await fixture.eventually { try await fixture.counts()["running"] == 1 }
        XCTAssertTrue(started)
        caller.cancel()
        let stopped = try await fixture.eventually(timeout: .seconds(30)) { !ended.all.isEmpty }
        XCTAssertTrue(stopped, "running { } returned after its caller was cancelled")
        let row = try await fixture.row(job.id)
        XCTAssertEqual(row.state, "available", "the running job was released")
    }
}
