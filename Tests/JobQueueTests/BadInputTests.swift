import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Garbage in through the admin CLI and through job arguments: every case gets a
/// clear error or a discarded job with its reason; no crash, no hang, no partial write.
final class BadInputTests: XCTestCase {
    private struct Run {
        var status: Int32
        var output: String
    }

    private func jobsctl(_ arguments: [String]) async throws -> Run {
        let output = NSTemporaryDirectory() + TestDatabase.uniqueName("bad") + ".out"
        let process = try ChildProcess(
            executable: try TestDatabase.executable("jobsctl"), arguments: arguments,
            environment: ["DATABASE_URL": try TestDatabase.url], outputPath: output)
        let status = await process.wait(timeout: .seconds(60)) ?? -99
        defer { try? FileManager.default.removeItem(atPath: output) }
        return Run(status: status, output: (try? String(contentsOfFile: output, encoding: .utf8)) ?? "<unreadable output>")
    }

    func testTheAdminCLIRejectsGarbageWithAReasonAndWritesNothing() async throws {
        try TestDatabase.migrate()
        let pool = PostgresPool(configuration: try TestDatabase.configuration, maxConnections: 1)
        let before = try await pool.query("SELECT count(*)::int8 FROM queue.jobs").scalar(Int64.self)
        let runsBefore = try await pool.query("SELECT count(*)::int8 FROM platform.payout_runs").scalar(Int64.self)
        // Too big for argv (the kernel refuses > 128 KiB per argument), so from a file.
        let hugeFile = NSTemporaryDirectory() + TestDatabase.uniqueName("huge") + ".json"
        try ("{\"x\": \"" + String(repeating: "a", count: 300 * 1024) + "\"}").write(toFile: hugeFile, atomically: true, encoding: .utf8)
        let invalidUTF8File = NSTemporaryDirectory() + TestDatabase.uniqueName("utf8") + ".json"
        try Data([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D]).write(to: URL(fileURLWithPath: invalidUTF8File))
        let cases: [([String], String)] = [
            (["enqueue", "coupon.expire", "--args", "{\"a\": "], "not valid JSON"),
            (["enqueue", "coupon.expire", "--args", "[1, 2"], "not valid JSON"),
            (["enqueue", "coupon.expire", "--args", "{\"s\": \"\\u0000\"}"], "NUL"),
            (["enqueue", "coupon.expire", "--args-file", hugeFile], "the limit is"),
            (["enqueue", "coupon.expire", "--args-file", invalidUTF8File], "not valid UTF-8"),
            (["enqueue", "coupon.expire", "--args-file", "/nonexistent/args.json"], "cannot read"),
            (["enqueue", "coupon.expire", "--priority", "-1"], "priority"),
            (["enqueue", "coupon.expire", "--priority", "99999999999999999999"], "--priority must be a whole number"),
            (["enqueue", "coupon.expire", "--max-attempts", "0"], "--max-attempts must be a whole number from 1"),
            (["enqueue", "coupon.expire", "--run-at", "yesterday"], "--run-at \"yesterday\" is not an ISO 8601 time"),
            (["enqueue", "coupon.expire", "--run-at", "+-5m"], "--run-at \"+-5m\" is not a delay"),
            (["enqueue", "coupon.expire", "--unique-key", String(repeating: "k", count: 5000)], "unique key must be 1 to"),
            (["enqueue", "'; DROP TABLE queue.jobs; --"], "unknown kind"),
            (["enqueue", "coupon.expire", "--queue", String(repeating: "q", count: 101)], "queue must be 1 to 100"),
            (["jobs", "show", "-1"], "job ID must be a whole number from 1"),
            (["jobs", "show", "9223372036854775808"], "job ID must be a whole number from 1"),
            (["jobs", "list", "--state", "running'; --"], "unknown state"),
            (["payouts", "run", "--period", "2026-W99"], "not an ISO week"),
            (["payouts", "run", "--period", "'; DELETE FROM platform.orders; --"], "not an ISO week"),
            (["seed", "--customers", "-5"], "--customers must be a whole number from 1 to"),
            // Refused before the run settles or pays anything.
            (["payouts", "run", "--period", "2026-W01", "--report", "/nonexistent/dir/p.csv"],
             "--report /nonexistent/dir/p.csv: folder /nonexistent/dir does not exist"),
            (["payouts", "run", "--period", "2026-W01", "--report", NSTemporaryDirectory()], "is a folder"),
            (["payouts", "run", "--period", "2026-W01", "--wait", "-5"], "--wait must be a number of seconds"),
            (["payouts", "run", "--period", "2026-W01", "--wait", "inf"], "--wait must be a number of seconds"),
        ]
        for (arguments, message) in cases {
            let run = try await jobsctl(arguments)
            XCTAssertEqual(run.status, 64, "\(arguments.map { $0.prefix(60) }): \(run.output.prefix(300))")
            XCTAssertTrue(run.output.contains(message), "\(arguments.map { $0.prefix(60) }) should say \(message): \(run.output.prefix(300))")
        }
        // SQL metacharacters where data is allowed stay data.
        let sneaky = "x'); DELETE FROM queue.jobs; --\u{1F600}"
        let stored = try await jobsctl(["enqueue", "coupon.expire", "--queue", "bad-input", "--unique-key", sneaky, "--tag", sneaky, "--json"])
        XCTAssertEqual(stored.status, 0, stored.output)
        let key = try await pool.query("SELECT unique_key FROM queue.jobs WHERE unique_key = $1", [sneaky]).scalar(String.self)
        XCTAssertEqual(key, sneaky)
        // Far past and far future times are accepted as times, not crashes.
        for time in ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
            let run = try await jobsctl(["enqueue", "coupon.expire", "--queue", "bad-input", "--run-at", time])
            XCTAssertEqual(run.status, 0, "\(time): \(run.output)")
        }
        let after = try await pool.query("SELECT count(*)::int8 FROM queue.jobs").scalar(Int64.self)
        XCTAssertEqual(after - before, 3, "only the three valid enqueues wrote anything")
        let runsAfter = try await pool.query("SELECT count(*)::int8 FROM platform.payout_runs").scalar(Int64.self)
        XCTAssertEqual(runsAfter, runsBefore, "no payout run was started")
        _ = try await pool.query("DELETE FROM queue.jobs WHERE queue = 'bad-input'")
    }

    func testGarbageJobArgumentsAreDiscardedWithTheReason() async throws {
        let fixture = try QueueFixture()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, _ in }
        let cases: [(String, String)] = [
            (#"{"number": "7", "label": "x"}"#, "number"),
            (#"{"number": 1e40, "label": "x"}"#, "out of range"),
            (#"{"number": 99999999999999999999999, "label": "x"}"#, "out of range"),
            (#"{"number": 1, "label": null}"#, "label"),
            (#"[1, 2, 3]"#, "Payload"),
            (#""just a string""#, "Payload"),
            (#"{"number": 1}"#, "label"),
        ]
        var ids: [Int64] = []
        for (json, _) in cases {
            ids.append(try await fixture.client.enqueue(fixture.request("test.payload", json)).id)
        }
        let good = try await fixture.client.enqueue(try JobRequest(Payload(number: 1, label: "ok"), queue: fixture.queue)).id
        try await fixture.running(try fixture.worker(handlers)) {
            _ = try await fixture.eventually {
                let counts = try await fixture.counts()
                return counts["completed"] == 1 && counts["discarded"] == cases.count
            }
        }
        for (id, (json, mention)) in zip(ids, cases) {
            let row = try await fixture.row(id)
            XCTAssertEqual(row.state, "discarded", json)
            XCTAssertEqual(row.attempt, 1, "\(json): not retried")
            XCTAssertTrue(row.errors.first?.contains(mention) ?? false, "\(json): \(row.errors)")
        }
        let goodRow = try await fixture.row(good)
        XCTAssertEqual(goodRow.state, "completed", "the worker kept serving")
    }
}
