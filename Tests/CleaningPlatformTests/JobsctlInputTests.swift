import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Garbage through the admin CLI, with the platform's job kinds and commands: every
/// case gets a clear error and exit 64; nothing is written but the valid enqueues.
final class JobsctlInputTests: XCTestCase {
    private func jobsctl(_ arguments: [String]) async throws -> JobsctlRun {
        try await JobsctlRun.run(arguments)
    }

    /// Every job in the table, whatever its queue or state.
    private static func jobCount(_ administration: JobAdministration) async throws -> Int {
        try await administration.statistics().reduce(0) { $0 + $1.counts.values.reduce(0, +) }
    }

    func testTheAdminCLIRejectsGarbageWithAReasonAndWritesNothing() async throws {
        let fixture = try PlatformFixture()
        let queue = TestDatabase.uniqueName("bad-input")
        let administration = JobAdministration(database: fixture.pool)
        let before = try await Self.jobCount(administration)
        let runsBefore = try await fixture.pool.query("SELECT count(*)::int8 FROM platform.payout_runs").scalar(Int64.self)
        // Too big for argv (the kernel refuses > 128 KiB per argument), so from a file.
        let hugeFile = NSTemporaryDirectory() + TestDatabase.uniqueName("huge") + ".json"
        try ("{\"x\": \"" + String(repeating: "a", count: 300 * 1024) + "\"}").write(toFile: hugeFile, atomically: true, encoding: .utf8)
        let invalidUTF8File = NSTemporaryDirectory() + TestDatabase.uniqueName("utf8") + ".json"
        try Data([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D]).write(to: URL(fileURLWithPath: invalidUTF8File))
        let cases: [([String], String)] = [
            (["enqueue", ExpireCoupons.kind, "--args", "{\"a\": "], "not valid JSON"),
            (["enqueue", ExpireCoupons.kind, "--args", "[1, 2"], "not valid JSON"),
            (["enqueue", ExpireCoupons.kind, "--args", "{\"s\": \"\\u0000\"}"], "NUL"),
            (["enqueue", ExpireCoupons.kind, "--args-file", hugeFile], "the limit is"),
            (["enqueue", ExpireCoupons.kind, "--args-file", invalidUTF8File], "not valid UTF-8"),
            (["enqueue", ExpireCoupons.kind, "--args-file", "/nonexistent/args.json"], "cannot read"),
            (["enqueue", ExpireCoupons.kind, "--priority", "-1"], "priority"),
            (["enqueue", ExpireCoupons.kind, "--priority", "99999999999999999999"], "--priority must be a whole number"),
            (["enqueue", ExpireCoupons.kind, "--max-attempts", "0"], "--max-attempts must be a whole number from 1"),
            (["enqueue", ExpireCoupons.kind, "--run-at", "yesterday"], "--run-at \"yesterday\" is not an ISO 8601 time"),
            (["enqueue", ExpireCoupons.kind, "--run-at", "+-5m"], "--run-at \"+-5m\" is not a delay"),
            (["enqueue", ExpireCoupons.kind, "--unique-key", String(repeating: "k", count: 5000)], "unique key must be 1 to"),
            (["enqueue", "'; DROP TABLE queue.jobs; --"], "unknown kind"),
            (["enqueue", ExpireCoupons.kind, "--queue", String(repeating: "q", count: 101)], "queue must be 1 to 100"),
            (["jobs", "show", "-1"], "job ID must be a whole number from 1"),
            (["jobs", "show", "9223372036854775808"], "job ID must be a whole number from 1"),
            (["jobs", "list", "--state", "running'; --"], "unknown state"),
            (["payouts", "run", "--period", "2026-W99"], "not an ISO week"),
            (["payouts", "run", "--period", "'; DELETE FROM platform.orders; --"], "not an ISO week"),
            (["seed", "--customers", "-5"], "--customers must be a whole number from 1 to"),
            (["seed", "--now", "2026-02-30T10:00:00+08:00"], #"--now "2026-02-30T10:00:00+08:00" is not an ISO 8601 time"#),
            (["stats", "platform", "--from", "2026-11-01"], "--to DAY is required"),
            (["stats", "platform", "--from", "2026-02-30", "--to", "2026-03-01"], #"--from "2026-02-30" is not a day"#),
            (["stats", "platform", "--from", "2026-11-02", "--to", "2026-11-01"], "is after --to"),
            (["stats", "platform", "--from", "2024-01-01", "--to", "2026-01-01"], "ask for at most 366"),
            (["stats", "platform", "--from", "2026-11-01", "--to", "2026-11-02", "--csv", "/nonexistent/dir/s.csv"],
             "folder /nonexistent/dir does not exist"),
            (["stats", "rollup", "--day", "yesterday"], #"--day "yesterday" is not a day"#),
            (["enqueue", RollUpStatistics.kind, "--args", #"{"days": ["2026-1-1"]}"#], #""2026-1-1" is not a date"#),
            // Refused before the run settles or pays anything.
            (["payouts", "run", "--period", "2026-W01", "--report", "/nonexistent/dir/p.csv"],
             "--report /nonexistent/dir/p.csv: folder /nonexistent/dir does not exist"),
            (["payouts", "run", "--period", "2026-W01", "--report", NSTemporaryDirectory()], "is a folder"),
            (["payouts", "run", "--period", "2026-W01", "--wait", "-5"], "--wait must be a number of seconds"),
            (["payouts", "run", "--period", "2026-W01", "--wait", "inf"], "--wait must be a number of seconds"),
            // Arguments are checked per kind, as its handler reads them.
            (["enqueue", ExpireCoupons.kind, "--args", #"{"x": 1}"#], #"unknown field "x""#),
            (["enqueue", ExpireCoupons.kind, "--args", "[]"], "arguments must be a JSON object"),
            (["enqueue", DispatchNotification.kind], #"missing field "notificationID""#),
            (["enqueue", DispatchNotification.kind, "--args", #"{"notificationID": "7"}"#], #"field "notificationID" is not"#),
            (["enqueue", DispatchNotification.kind, "--args", #"{"notificationID": 0}"#], "notificationID must be a row id"),
            (["enqueue", DispatchNotification.kind, "--args", #"{"notificationID": 1e30}"#], "out of range"),
            (
                ["enqueue", OrderReminder.kind, "--args", #"{"orderID": 1, "moment": "cleaner_1h", "appointmentAt": 1800000000}"#],
                "needs cleanerID"
            ),
            (["enqueue", OrderReminder.kind, "--args", #"{"orderID": 1, "moment": "soon", "appointmentAt": 1}"#], "moment"),
            (
                ["enqueue", SettleCleanerPayout.kind, "--args", #"{"runID": 1, "cleanerID": 2, "cleanerId": 3}"#],
                #"unknown field "cleanerId""#
            ),
        ]
        for (arguments, message) in cases {
            let run = try await jobsctl(arguments)
            XCTAssertEqual(run.status, 64, "\(arguments.map { $0.prefix(60) }): \(run.output.prefix(300))")
            XCTAssertTrue(run.output.contains(message), "\(arguments.map { $0.prefix(60) }) should say \(message): \(run.output.prefix(300))")
        }
        // SQL metacharacters where data is allowed stay data.
        let sneaky = "x'); DELETE FROM queue.jobs; --\u{1F600}"
        let stored = try await jobsctl(["enqueue", ExpireCoupons.kind, "--queue", queue, "--unique-key", sneaky, "--tag", sneaky, "--json"])
        XCTAssertEqual(stored.status, 0, stored.output)
        let storedID = try XCTUnwrap((try stored.json() as? [String: Any])?["id"] as? Int, stored.output)
        let detail = try await administration.show(Int64(storedID))
        XCTAssertEqual(detail?.uniqueKey, sneaky)
        XCTAssertEqual(detail?.tags, [sneaky])
        // Far past and far future times are accepted as times, not crashes.
        for time in ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
            let run = try await jobsctl(["enqueue", ExpireCoupons.kind, "--queue", queue, "--run-at", time])
            XCTAssertEqual(run.status, 0, "\(time): \(run.output)")
        }
        let after = try await Self.jobCount(administration)
        XCTAssertEqual(after - before, 3, "only the three valid enqueues wrote anything")
        let runsAfter = try await fixture.pool.query("SELECT count(*)::int8 FROM platform.payout_runs").scalar(Int64.self)
        XCTAssertEqual(runsAfter, runsBefore, "no payout run was started")
        for job in try await administration.list(queue: queue) {
            _ = try await administration.delete(job.id)
        }
    }
}
