import Foundation
@testable import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

/// Tracks how many handlers run at once.
final class ConcurrencyGauge: Sendable {
    private let state = Mutex((current: 0, peak: 0))
    func enter() { state.withLock { $0.current += 1; $0.peak = max($0.peak, $0.current) } }
    func leave() { state.withLock { $0.current -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
}

struct Step: JobArguments {
    static let kind = "test.step"
    var name: String
    var fail: Bool = false
}

final class OperationsTests: XCTestCase {
    func testAPausedQueueIsNotClaimedUntilResumed() async throws {
        let fixture = try QueueFixture()
        let administration = JobAdministration(database: fixture.pool)
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, _ in }
        try await administration.setPaused(fixture.queue, true)
        try await fixture.worker(handlers).running {
            try await fixture.client.enqueue(
                try (0..<10).map { try JobRequest(Payload(number: $0, label: ""), queue: fixture.queue) })
            try await Task.sleep(for: .seconds(1.5))
            let whilePaused = try await fixture.counts()
            XCTAssertEqual(whilePaused, ["available": 10], "nothing claimed while paused")
            try await administration.setPaused(fixture.queue, false)
            let done = try await fixture.eventually { try await fixture.counts() == ["completed": 10] }
            XCTAssertTrue(done)
        }
        let queues = try await administration.queues()
        XCTAssertEqual(queues.first { $0.name == fixture.queue }?.paused, false)
    }

    func testAQueueLimitHoldsAcrossWorkers() async throws {
        let fixture = try QueueFixture()
        let administration = JobAdministration(database: fixture.pool)
        try await administration.setConcurrencyLimit(fixture.queue, 3)
        let gauge = ConcurrencyGauge()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, _ in
            gauge.enter()
            try? await Task.sleep(for: .milliseconds(60))
            gauge.leave()
        }
        try await fixture.client.enqueue(
            try (0..<40).map { try JobRequest(Payload(number: $0, label: ""), queue: fixture.queue) })
        // Three workers with their own pools, like three processes, each allowed 10.
        let workers = try (0..<3).map { _ in try fixture.worker(handlers, concurrency: 10) }
        let done = try await JobWorker.running(workers) {
            try await fixture.eventually(timeout: .seconds(60)) { try await fixture.counts() == ["completed": 40] }
        }
        XCTAssertTrue(done)
        XCTAssertLessThanOrEqual(gauge.peak, 3, "the queue's limit holds across workers")
        XCTAssertGreaterThanOrEqual(gauge.peak, 2, "and still runs jobs in parallel")
    }

    func testWorkflowRunsAfterItsDependenciesAndCancelsWhenOneFails() async throws {
        let fixture = try QueueFixture()
        let order = Recorder<String>()
        var handlers = JobHandlerRegistry()
        handlers.register(Step.self) { step, _ in
            if step.fail { throw JobDiscarded("step \(step.name) cannot succeed") }
            try await Task.sleep(for: .milliseconds(step.name == "a" ? 300 : 10))
            order.append(step.name)
        }
        let a = try await fixture.client.enqueue(try JobRequest(Step(name: "a"), queue: fixture.queue)).id
        let b = try await fixture.client.enqueue(try JobRequest(Step(name: "b"), queue: fixture.queue)).id
        let c = try await fixture.client.enqueue(try JobRequest(Step(name: "c"), queue: fixture.queue, dependsOn: [a, b])).id
        let broken = try await fixture.client.enqueue(try JobRequest(Step(name: "x", fail: true), queue: fixture.queue)).id
        let orphan = try await fixture.client.enqueue(
            try JobRequest(Step(name: "never"), queue: fixture.queue, dependsOn: [c, broken])).id
        let pendingRow = try await fixture.row(c)
        XCTAssertEqual(pendingRow.state, "pending")
        try await fixture.worker(handlers) { $0.leaderInterval = .milliseconds(100) }.running {
            _ = try await fixture.eventually {
                let counts = try await fixture.counts()
                return counts["completed"] == 3 && counts["cancelled"] == 1
            }
        }
        XCTAssertEqual(order.all.last, "c", "c ran after a and b: \(order.all)")
        XCTAssertEqual(Set(order.all), ["a", "b", "c"])
        let orphanRow = try await fixture.row(orphan)
        XCTAssertEqual(orphanRow.state, "cancelled")
        XCTAssertTrue(orphanRow.errors.first?.contains("dependency \(broken)") ?? false, "\(orphanRow.errors)")
    }

    func testABatchCallbackGetsTheCounts() async throws {
        let fixture = try QueueFixture()
        let summaries = Recorder<String>()
        struct Report: JobArguments {
            static let kind = "test.report"
            struct Batch: Codable { var completed: Int; var discarded: Int; var cancelled: Int; var total: Int }
            var title: String
            var batch: Batch?
        }
        var handlers = JobHandlerRegistry()
        handlers.register(Step.self) { step, _ in if step.fail { throw JobDiscarded("no") } }
        handlers.register(Report.self) { report, _ in
            let batch = report.batch
            summaries.append("\(report.title) \(batch?.completed ?? -1)/\(batch?.discarded ?? -1)/\(batch?.total ?? -1)")
        }
        let batch = "settle-\(fixture.queue)"
        try await fixture.pool.withTransaction { connection in
            for (index, fail) in [false, false, true].enumerated() {
                try connection.enqueue(try JobRequest(Step(name: "s\(index)", fail: fail), queue: fixture.queue, batchID: batch))
            }
            try connection.enqueue(try JobRequest(Report(title: "week"), queue: fixture.queue, callbackForBatch: batch))
        }
        try await fixture.worker(handlers) { $0.leaderInterval = .milliseconds(100) }.running {
            _ = try await fixture.eventually { !summaries.all.isEmpty }
        }
        XCTAssertEqual(summaries.all, ["week 2/1/3"])
    }

    func testPruningDeletesOnlyFinishedJobsPastTheirAge() async throws {
        let fixture = try QueueFixture()
        let ids = try await fixture.client.enqueue((0..<6).map { _ in fixture.request("test.prune") }).map(\.id)
        let ages: [(String, String)] = [
            ("completed", "2 days"), ("completed", "1 hour"), ("discarded", "3 days"), ("discarded", "8 days"),
            ("cancelled", "2 days"), ("available", "30 days"),
        ]
        for (id, (state, age)) in zip(ids, ages) where state != "available" {
            _ = try await fixture.pool.query(
                "UPDATE queue.jobs SET state = $2, finalized_at = now() - $3::interval WHERE id = $1", [id, state, age])
        }
        _ = try await RetentionPolicy(batchSize: 1).prune(on: fixture.pool)
        let left = try await fixture.pool.query("SELECT id FROM queue.jobs WHERE queue = $1 ORDER BY id", [fixture.queue])
        XCTAssertEqual(try left.rows.map { try $0.decode(0, as: Int64.self) }, [ids[1], ids[2], ids[5]])
    }

    func testExpiredDeadlinesDiscardAndPriorityAges() async throws {
        let fixture = try QueueFixture()
        let administration = JobAdministration(database: fixture.pool)
        try await administration.setPaused(fixture.queue, true)
        try await administration.setPriorityAging(fixture.queue, seconds: 1)
        var late = fixture.request("test.deadline", runAt: Date().addingTimeInterval(1))
        late.deadline = Date().addingTimeInterval(0.5)
        let lateID = try await fixture.client.enqueue(late).id
        var low = fixture.request("test.aging")
        low.priority = 5
        let lowID = try await fixture.client.enqueue(low).id
        try await fixture.worker(JobHandlerRegistry()) { $0.leaderInterval = .milliseconds(100) }.running {
            _ = try await fixture.eventually(timeout: .seconds(10)) {
                let priority = try await fixture.pool.query("SELECT priority::int8 FROM queue.jobs WHERE id = $1", [lowID])
                    .scalar(Int64.self)
                return try await fixture.row(lateID).state == "discarded" && priority <= 3
            }
        }
        let lateRow = try await fixture.row(lateID)
        XCTAssertEqual(lateRow.state, "discarded")
        XCTAssertTrue(lateRow.errors.first?.contains("expired") ?? false, "\(lateRow.errors)")
        let priority = try await fixture.pool.query("SELECT priority::int8 FROM queue.jobs WHERE id = $1", [lowID])
            .scalar(Int64.self)
        XCTAssertLessThanOrEqual(priority, 3, "waiting raised its priority")
    }

    func testCancellingARunningJobStopsItsHandler() async throws {
        let fixture = try QueueFixture()
        let stopped = Recorder<Bool>()
        var handlers = JobHandlerRegistry()
        let started = Recorder<Bool>()
        handlers.register(Slow.self) { arguments, _ in
            started.append(true)
            do { try await Task.sleep(for: .milliseconds(arguments.ms)) } catch {
                stopped.append(true)
                throw error
            }
        }
        let id = try await fixture.client.enqueue(try JobRequest(Slow(ms: 60_000), queue: fixture.queue)).id
        let administration = JobAdministration(database: fixture.pool)
        try await fixture.worker(handlers) { $0.leaseDuration = .seconds(3) }.running {
            // Its handler runs (a job cancelled between its claim and its start ends
            // without running, which is another test's case).
            _ = try await fixture.eventually { !started.all.isEmpty }
            let result = try await administration.cancel(id)
            XCTAssertEqual(result, .requested)
            _ = try await fixture.eventually { try await fixture.row(id).state == "cancelled" }
        }
        let row = try await fixture.row(id)
        XCTAssertEqual(row.state, "cancelled")
        XCTAssertEqual(stopped.all, [true])
        let again = try await administration.cancel(id)
        XCTAssertEqual(again, .refused(state: .cancelled))
    }

    func testRateLimitTakesPermitsUpToTheLimitThenSaysWhen() async throws {
        let connection = try TestDatabase.connect()
        try TestDatabase.migrate()
        let limit = RateLimit(key: TestDatabase.uniqueName("sms"), limit: 3, per: .seconds(60))
        for _ in 0..<3 { XCTAssertNil(try limit.take(on: connection)) }
        let freeAt = try XCTUnwrap(try limit.take(on: connection))
        XCTAssertGreaterThan(freeAt.timeIntervalSinceNow, 50)
        XCTAssertLessThanOrEqual(freeAt.timeIntervalSinceNow, 60)
    }
}
