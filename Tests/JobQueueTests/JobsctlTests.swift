import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The admin CLI end to end: the built `jobsctl` against the test database.
final class JobsctlTests: XCTestCase {
    private func jobsctl(_ arguments: [String]) async throws -> JobsctlRun {
        try await JobsctlRun.run(arguments)
    }

    private func json(_ run: JobsctlRun) throws -> Any {
        try run.json()
    }

    func testEveryCommandHasHelp() async throws {
        for command in [
            [], ["migrate"], ["enqueue"], ["jobs"], ["jobs", "list"], ["jobs", "show"], ["jobs", "retry"],
            ["jobs", "cancel"], ["jobs", "delete"], ["queues"], ["queues", "list"], ["queues", "pause"],
            ["queues", "resume"], ["queues", "limit"], ["queues", "aging"], ["queues", "completed"], ["stats"], ["cron"], ["cron", "list"],
        ] {
            let run = try await jobsctl(command + ["--help"])
            XCTAssertEqual(run.status, 0, "\(command): \(run.output)")
            XCTAssertTrue(run.output.contains("Usage: jobsctl"), "\(command): \(run.output)")
        }
    }

    func testJobCommandsListShowRetryCancelDelete() async throws {
        let fixture = try QueueFixture()
        let migrate = try await jobsctl(["migrate"])
        XCTAssertEqual(migrate.status, 0, migrate.output)
        let ids = try await fixture.client.enqueue([
            fixture.request("test.cli", #"{"n": 1}"#), fixture.request("test.cli", #"{"n": 2}"#),
        ]).map(\.id)
        _ = try await fixture.pool.query(
            """
            UPDATE queue.jobs SET state = 'discarded', finalized_at = now(), attempt = 5,
                errors = '[{"attempt": 5, "at": "2026-11-23T10:00:00Z", "error": "provider said 400", "worker": "w1"}]'
            WHERE id = $1
            """, [ids[0]])

        let list = try await jobsctl(["jobs", "list", "--queue", fixture.queue, "--json"])
        XCTAssertEqual(list.status, 0, list.output)
        let listed = try XCTUnwrap(try json(list) as? [[String: Any]])
        XCTAssertEqual(listed.compactMap { $0["id"] as? Int }.sorted(), ids.map(Int.init))
        let table = try await jobsctl(["jobs", "list", "--queue", fixture.queue, "--state", "discarded"])
        XCTAssertTrue(table.output.contains("test.cli") && table.output.contains("discarded"), table.output)
        XCTAssertTrue(table.output.contains("ID"), "a header row: \(table.output)")

        let show = try await jobsctl(["jobs", "show", "\(ids[0])"])
        XCTAssertEqual(show.status, 0)
        XCTAssertTrue(show.output.contains("provider said 400") && show.output.contains(#""n":1"#)
                      || show.output.contains(#""n": 1"#), show.output)
        XCTAssertTrue(show.output.contains("attempt 5"), show.output)

        let retry = try await jobsctl(["jobs", "retry", "\(ids[0])"])
        XCTAssertEqual(retry.status, 0, retry.output)
        let retried = try await fixture.row(ids[0])
        XCTAssertEqual(retried.state, "available")

        let cancel = try await jobsctl(["jobs", "cancel", "\(ids[1])"])
        XCTAssertEqual(cancel.status, 0, cancel.output)
        let cancelled = try await fixture.row(ids[1])
        XCTAssertEqual(cancelled.state, "cancelled")
        let cancelAgain = try await jobsctl(["jobs", "cancel", "\(ids[1])"])
        XCTAssertEqual(cancelAgain.status, 1)
        XCTAssertTrue(cancelAgain.output.contains("is cancelled"), cancelAgain.output)

        let delete = try await jobsctl(["jobs", "delete", "\(ids[1])"])
        XCTAssertEqual(delete.status, 0, delete.output)
        let missing = try await jobsctl(["jobs", "show", "\(ids[1])"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.output.contains("does not exist"), missing.output)

        _ = try await fixture.pool.query(
            "UPDATE queue.jobs SET state = 'discarded', finalized_at = now() WHERE id = $1", [ids[0]])
        let bulk = try await jobsctl(["jobs", "retry", "--discarded", "--kind", "test.cli"])
        XCTAssertEqual(bulk.status, 0, bulk.output)
        XCTAssertTrue(bulk.output.contains("retrying"), bulk.output)
    }

    /// One job in each state, each reached the way it is in production (a worker
    /// runs, fails and completes jobs; a dependency keeps one pending; an operator
    /// cancels one), then `jobs list --state` through the CLI finds exactly that job.
    func testJobsListFindsAJobInEveryState() async throws {
        let fixture = try QueueFixture()
        let administration = JobAdministration(database: fixture.pool)
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, _ in }
        handlers.register(Slow.self) { arguments, _ in try await Task.sleep(for: .milliseconds(arguments.ms)) }
        handlers.register(Flaky.self, options: JobKindOptions(retryPolicy: RetryPolicy(baseDelay: .seconds(3600)))) {
            _, _ in throw CocoaError(.fileReadUnknown)
        }
        let later = Date().addingTimeInterval(3600)
        var expected: [JobState: Int64] = [:]
        expected[.completed] = try await fixture.client.enqueue(
            try JobRequest(Payload(number: 1, label: ""), queue: fixture.queue)).id
        expected[.running] = try await fixture.client.enqueue(try JobRequest(Slow(ms: 600_000), queue: fixture.queue)).id
        expected[.retryable] = try await fixture.client.enqueue(
            try JobRequest(Flaky(failures: 1), queue: fixture.queue, maxAttempts: 5)).id
        expected[.discarded] = try await fixture.client.enqueue(
            try JobRequest(Flaky(failures: 1), queue: fixture.queue, maxAttempts: 1)).id
        let worker = try fixture.worker(handlers) { $0.shutdownGracePeriod = .milliseconds(100) }
        try await worker.running {
            let settled = try await fixture.eventually {
                try await fixture.counts() == ["completed": 1, "running": 1, "retryable": 1, "discarded": 1]
            }
            let counts = try await fixture.counts()
            XCTAssertTrue(settled, "\(counts)")
            expected[.pending] = try await fixture.client.enqueue(
                try JobRequest(Payload(number: 2, label: ""), queue: fixture.queue, dependsOn: [expected[.running]!])).id
            expected[.scheduled] = try await fixture.client.enqueue(
                try JobRequest(Payload(number: 3, label: ""), queue: fixture.queue, runAt: later)).id
            let cancelled = try await fixture.client.enqueue(
                try JobRequest(Payload(number: 4, label: ""), queue: fixture.queue, runAt: later)).id
            let cancelResult = try await administration.cancel(cancelled)
            XCTAssertEqual(cancelResult, .done)
            expected[.cancelled] = cancelled
            // Paused, so the running worker leaves it available.
            try await administration.setPaused(fixture.queue, true)
            expected[.available] = try await fixture.client.enqueue(
                try JobRequest(Payload(number: 5, label: ""), queue: fixture.queue)).id

            XCTAssertEqual(Set(expected.keys), Set(JobState.allCases))
            for state in JobState.allCases {
                let run = try await jobsctl(["jobs", "list", "--queue", fixture.queue, "--state", state.rawValue, "--json"])
                XCTAssertEqual(run.status, 0, "\(state): \(run.output)")
                let listed = try XCTUnwrap(try json(run) as? [[String: Any]], "\(state): \(run.output)")
                XCTAssertEqual(listed.compactMap { $0["id"] as? Int }, [Int(expected[state]!)], "\(state): \(run.output)")
                XCTAssertEqual(listed.compactMap { $0["state"] as? String }, [state.rawValue])
            }
        }
    }

    func testQueueCommandsAndStats() async throws {
        let fixture = try QueueFixture()
        try await fixture.client.enqueue((0..<3).map { _ in fixture.request("test.cli") })
        let pause = try await jobsctl(["queues", "pause", fixture.queue])
        XCTAssertEqual(pause.status, 0, pause.output)
        let limit = try await jobsctl(["queues", "limit", fixture.queue, "2"])
        XCTAssertEqual(limit.status, 0, limit.output)
        let listed = try await jobsctl(["queues", "list", "--json"])
        let queues = try XCTUnwrap(try json(listed) as? [[String: Any]])
        let mine = try XCTUnwrap(queues.first { $0["name"] as? String == fixture.queue })
        XCTAssertEqual(mine["paused"] as? Bool, true)
        XCTAssertEqual(mine["concurrencyLimit"] as? Int, 2)
        XCTAssertEqual(mine["available"] as? Int, 3)
        XCTAssertEqual(mine["keepCompleted"] as? Bool, true, "completed jobs are kept by default")
        let resume = try await jobsctl(["queues", "resume", fixture.queue])
        XCTAssertEqual(resume.status, 0)
        let deleting = try await jobsctl(["queues", "completed", fixture.queue, "delete"])
        XCTAssertEqual(deleting.status, 0, deleting.output)
        XCTAssertTrue(deleting.output.contains("deleted when they complete"), deleting.output)
        let tableRun = try await jobsctl(["queues", "list"])
        XCTAssertTrue(tableRun.output.contains(fixture.queue), tableRun.output)
        let line = tableRun.output.split(separator: "\n").first { $0.contains(fixture.queue) } ?? ""
        XCTAssertTrue(line.contains("delete"), "the table shows the queue's retention: \(tableRun.output)")

        let stats = try await jobsctl(["stats", "--json"])
        XCTAssertEqual(stats.status, 0, stats.output)
        let rows = try XCTUnwrap(try json(stats) as? [[String: Any]])
        let row = try XCTUnwrap(rows.first { $0["queue"] as? String == fixture.queue })
        XCTAssertEqual((row["counts"] as? [String: Int])?["available"], 3)
        XCTAssertNotNil(row["oldestAvailableAgeSeconds"] as? Double)
        XCTAssertEqual(row["keepsCompleted"] as? Bool, false, "\(row)")
        let statsTable = try await jobsctl(["stats"])
        XCTAssertTrue(statsTable.output.contains("OLDEST WAIT"), statsTable.output)
        // Its completions leave no rows: "–", not a 0 that reads as "nothing done".
        let statsLine = statsTable.output.split(separator: "\n").first { $0.hasPrefix(fixture.queue) } ?? ""
        XCTAssertEqual(statsLine.split(separator: " ").filter { $0 == "–" }.count, 2, statsTable.output)
        XCTAssertTrue(
            statsTable.output.split(separator: "\n").contains { $0.hasPrefix("–: ") && $0.contains(fixture.queue) },
            statsTable.output)

        let cron = try await jobsctl(["cron", "list"])
        XCTAssertEqual(cron.status, 0, cron.output)
    }

    func testBadInputGetsAReasonAndANonZeroExit() async throws {
        let cases: [([String], Int32, String)] = [
            (["frobnicate"], 64, "unknown command"),
            (["jobs", "show", "abc"], 64, "job ID must be a whole number"),
            (["jobs", "show"], 64, "missing job ID"),
            (["jobs", "list", "--state", "sleeping"], 64, "unknown state \"sleeping\""),
            (["jobs", "list", "--limit", "x"], 64, "--limit must be a whole number"),
            (["jobs", "retry", "--discarded"], 64, "--discarded needs --kind"),
            (["queues", "limit", "q", "-3"], 64, "whole number"),
            (["queues", "completed", "q", "forget"], 64, "neither keep nor delete"),
            (["enqueue", "no.such.kind"], 64, "unknown kind \"no.such.kind\"; known kinds:"),
            (["jobs", "show", "999999999"], 1, "does not exist"),
            (["stats", "--watch", "zero"], 64, "--watch must be a number of seconds"),
        ]
        for (arguments, status, message) in cases {
            let run = try await jobsctl(arguments)
            XCTAssertEqual(run.status, status, "\(arguments): \(run.output)")
            XCTAssertTrue(run.output.contains(message), "\(arguments): \(run.output)")
        }
    }
}
