import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// An operator's control over periodic jobs, as the leader honours it: a disabled
/// schedule enqueues nothing and does not catch up what it skipped once enabled
/// again; "run now" enqueues one job at once (disabled or not), once.
final class PeriodicJobControlTests: XCTestCase {
    private func periodicJob(_ fixture: QueueFixture) throws -> PeriodicJob {
        PeriodicJob(
            name: TestDatabase.uniqueName("every-minute"), schedule: try CronSchedule("* * * * *", timeZone: TimeZone(identifier: "Asia/Shanghai")!),
            request: fixture.request("test.periodic"))
    }

    /// The jobs the schedule enqueued, by run-at.
    private func enqueued(_ fixture: QueueFixture) async throws -> [(runAt: Date, uniqueKey: String)] {
        try await fixture.pool.query(
            "SELECT run_at, unique_key FROM queue.jobs WHERE queue = $1 ORDER BY run_at, id", [fixture.queue]
        ).rows.map { try $0.decode((Date, String).self) }
    }

    private func schedule(_ name: String, _ fixture: QueueFixture) async throws -> JobAdministration.ScheduleSummary {
        let all = try await JobAdministration(database: fixture.pool).schedules()
        return try XCTUnwrap(all.first { $0.name == name })
    }

    /// The first whole minute after `date`.
    private func minute(after date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
    }

    func testADisabledScheduleEnqueuesNothingAndDoesNotCatchUpOnceEnabled() async throws {
        let fixture = try QueueFixture()
        let job = try periodicJob(fixture)
        let scheduler = CronScheduler(jobs: [job], log: .silent)
        let administration = JobAdministration(database: fixture.pool)
        let start = minute(after: Date())
        try await scheduler.tick(on: fixture.pool, now: start.addingTimeInterval(1))
        let registered = try await schedule(job.name, fixture)
        XCTAssertTrue(registered.enabled, "a schedule starts enabled")
        XCTAssertEqual(registered.nextFireAt, start.addingTimeInterval(60))

        let disabled = try await administration.setScheduleEnabled(job.name, false)
        XCTAssertTrue(disabled)
        try await scheduler.tick(on: fixture.pool, now: start.addingTimeInterval(5 * 60 + 1))
        let whileDisabled = try await enqueued(fixture)
        XCTAssertEqual(whileDisabled.count, 0, "nothing enqueued while disabled")
        let skipped = try await schedule(job.name, fixture)
        XCTAssertFalse(skipped.enabled)
        XCTAssertEqual(skipped.nextFireAt, start.addingTimeInterval(6 * 60), "the next fire time moves on")

        let enabled = try await administration.setScheduleEnabled(job.name, true)
        XCTAssertTrue(enabled)
        try await scheduler.tick(on: fixture.pool, now: start.addingTimeInterval(5 * 60 + 10))
        let afterEnabling = try await enqueued(fixture)
        XCTAssertEqual(afterEnabling.count, 0, "the ticks skipped while disabled are not caught up")
        try await scheduler.tick(on: fixture.pool, now: start.addingTimeInterval(6 * 60 + 1))
        let onTime = try await enqueued(fixture)
        XCTAssertEqual(onTime.map(\.runAt), [start.addingTimeInterval(6 * 60)], "the next tick runs on time")

        let unknown = try await administration.setScheduleEnabled("no-such-\(job.name)", false)
        XCTAssertFalse(unknown)
    }

    func testRunNowEnqueuesOneJobAtTheNextTickEvenWhenDisabled() async throws {
        let fixture = try QueueFixture()
        let job = try periodicJob(fixture)
        let scheduler = CronScheduler(jobs: [job], log: .silent)
        let administration = JobAdministration(database: fixture.pool)
        let start = minute(after: Date())
        try await scheduler.tick(on: fixture.pool, now: start.addingTimeInterval(1))
        _ = try await administration.setScheduleEnabled(job.name, false)

        let requested = try await administration.requestScheduleRun(job.name)
        XCTAssertTrue(requested)
        let pending = try await schedule(job.name, fixture)
        XCTAssertNotNil(pending.runRequestedAt, "the request waits for the leader")
        let now = start.addingTimeInterval(20)
        try await scheduler.tick(on: fixture.pool, now: now)
        let ran = try await enqueued(fixture)
        XCTAssertEqual(ran.map(\.runAt), [now], "one job, to run now")
        XCTAssertTrue(ran.first?.uniqueKey.hasPrefix("cron:\(job.name):now:") == true, ran.first?.uniqueKey ?? "")
        let served = try await schedule(job.name, fixture)
        XCTAssertNil(served.runRequestedAt, "the request is served")
        XCTAssertFalse(served.enabled, "running it now does not enable it")

        try await scheduler.tick(on: fixture.pool, now: start.addingTimeInterval(40))
        let again = try await enqueued(fixture)
        XCTAssertEqual(again.count, 1, "a request runs once")
        let unknown = try await administration.requestScheduleRun("no-such-\(job.name)")
        XCTAssertFalse(unknown)
    }
}
