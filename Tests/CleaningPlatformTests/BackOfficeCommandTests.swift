import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The back-office commands of `jobsctl` (orders, tiers, exams), end to end
/// against the test database, and argument decoding.
final class BackOfficeCommandTests: XCTestCase {
    private struct Run {
        var status: Int32
        var output: String
    }

    private func run(
        _ executable: String, _ arguments: [String], shell: Bool = false, environment: [String: String]? = nil
    ) async throws -> Run {
        let output = NSTemporaryDirectory() + TestDatabase.uniqueName("backoffice") + ".out"
        let program = try TestDatabase.executable(executable)
        // Through the shell when an argument must carry bytes a Swift String cannot hold.
        let process = try ChildProcess(
            executable: shell ? "/bin/sh" : program, arguments: shell ? ["-c", arguments[0], program] : arguments,
            environment: try environment ?? ["DATABASE_URL": TestDatabase.url], outputPath: output)
        let status = await process.wait(timeout: .seconds(60)) ?? -99
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: output)
        return Run(status: status, output: text)
    }

    private func at(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text)!
    }

    func testEveryNewCommandHasHelpThatMatchesIt() async throws {
        for command in [
            ["orders"], ["orders", "complete"], ["tiers"], ["tiers", "recalculate"], ["exams"], ["exams", "grade"],
            ["exams", "regrade"],
        ] {
            let help = try await run("jobsctl", command + ["--help"])
            XCTAssertEqual(help.status, 0, "\(command): \(help.output)")
            XCTAssertTrue(help.output.contains("Usage: jobsctl"), "\(command): \(help.output)")
        }
        let tiers = try await run("jobsctl", ["tiers", "recalculate", "--help"])
        XCTAssertTrue(tiers.output.contains("queue \"\(PlatformJobs.maintenanceQueue)\""), tiers.output)
    }

    /// Invalid UTF-8 in an argument is refused with exit code 64, never replaced:
    /// two unique keys differing only in an invalid byte must not become one.
    func testInvalidUTF8ArgumentsAreRefused() async throws {
        for (executable, script) in [
            ("jobsctl", #"exec "$0" enqueue tier.upgrade --unique-key "$(printf 'key\377')""#),
            ("jobsctl", #"exec "$0" "$(printf 'jobs\300')""#),
            ("queue-worker", #"exec "$0" --worker-id "$(printf 'w\355\240\200')""#),
        ] {
            let refused = try await run(executable, [script], shell: true)
            XCTAssertEqual(refused.status, 64, "\(executable) \(script): \(refused.output)")
            XCTAssertTrue(refused.output.contains("not valid UTF-8"), refused.output)
        }
    }

    /// Files named by variables are read as strict UTF-8 too, and the error says so.
    func testInvalidUTF8FilesAreRefused() async throws {
        let file = NSTemporaryDirectory() + TestDatabase.uniqueName("latin1") + ".txt"
        try Data([0x74, 0x6F, 0x6B, 0xE9, 0x6E]).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let url = try await run("jobsctl", ["jobs", "list"], environment: ["DATABASE_URL_FILE": file])
        XCTAssertEqual(url.status, 1, url.output)
        XCTAssertTrue(url.output.contains("DATABASE_URL_FILE \(file) is not valid UTF-8"), url.output)
        let token = try await run(
            "queue-worker", [],
            environment: [
                "DATABASE_URL": try TestDatabase.url, "NOTIFY_PROVIDER": "http", "NOTIFY_HTTP_URL": "http://127.0.0.1:9/send",
                "NOTIFY_HTTP_TOKEN_FILE": file,
            ])
        XCTAssertEqual(token.status, 1, token.output)
        XCTAssertTrue(token.output.contains("NOTIFY_HTTP_TOKEN_FILE \(file) is not valid UTF-8"), token.output)
    }

    /// Finance reproduces a payout from the CLI alone: complete the order at a
    /// time, and the week containing that time settles it.
    func testCompletingAnOrderFromTheCommandLine() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer().id
        let cleaner = try await fixture.cleaner().id
        let period = try PlatformFixture.uniquePayoutPeriod()
        let completedAt = period.start.addingTimeInterval(86_400 + 3_600)
        let order = try await fixture.pool.withTransaction { connection -> Int64 in
            let id = try OrderBooking.book(
                OrderBooking.NewOrder(
                    customerID: customer, serviceTypeID: 1, address: "x", latitude: 31, longitude: 121,
                    appointmentStart: completedAt.addingTimeInterval(-7200), durationMinutes: 60, amountFen: 12_345),
                now: completedAt.addingTimeInterval(-86_400), on: connection)
            try OrderBooking.assign(orderID: id, cleanerID: cleaner, now: completedAt.addingTimeInterval(-80_000), on: connection)
            return id
        }
        let iso = ISO8601DateFormatter().string(from: completedAt)
        let completed = try await run("jobsctl", ["orders", "complete", "\(order)", "--at", iso])
        XCTAssertEqual(completed.status, 0, completed.output)
        XCTAssertTrue(completed.output.contains("Asia/Shanghai (UTC+08:00)"), "the time is shown with its zone: \(completed.output)")
        let (status, at) = try await fixture.pool.query(
            "SELECT status, completed_at FROM platform.orders WHERE id = $1", [order]).first!.decode((String, Date).self)
        XCTAssertEqual(status, OrderStatus.completed)
        XCTAssertEqual(at, completedAt)
        let collected = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM platform.ledger_transactions WHERE reference = $1", ["collection:\(order)"]
        ).scalar(Int64.self)
        XCTAssertEqual(collected, 1)
        let lines = try await fixture.pool.withConnection { try PayoutRun.dryRun(period, on: $0).lines }
        XCTAssertEqual(lines.first { $0.cleanerID == cleaner }?.grossFen, 12_345, "the order counts in its week")

        // Again: nothing changes, exit 0.
        let again = try await run("jobsctl", ["orders", "complete", "\(order)"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("already completed"), again.output)
        let collectedAgain = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM platform.ledger_transactions WHERE reference = $1", ["collection:\(order)"]
        ).scalar(Int64.self)
        XCTAssertEqual(collectedAgain, 1)

        // A cancelled order, a missing one, a bad time: refused with the reason.
        let cancelled = try await fixture.order(customerID: customer, appointment: completedAt, now: completedAt.addingTimeInterval(-86_400))
        _ = try await fixture.pool.withTransaction { try OrderBooking.cancel(orderID: cancelled, now: completedAt, on: $0) }
        let refused = try await run("jobsctl", ["orders", "complete", "\(cancelled)"])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("cancelled"), refused.output)
        let missing = try await run("jobsctl", ["orders", "complete", "999999999999"])
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssertTrue(missing.output.contains("does not exist"), missing.output)
        let badTime = try await run("jobsctl", ["orders", "complete", "\(order)", "--at", "yesterday"])
        XCTAssertEqual(badTime.status, 64, badTime.output)
        XCTAssertTrue(badTime.output.contains("--at"), badTime.output)
    }

    /// `--as-of` reaches the job: the recalculation and the grading run as of that moment.
    func testAsOfIsPassedToTierRecalculationAndGrading() async throws {
        let fixture = try PlatformFixture()
        let asOf = "2025-03-01T00:30:00+08:00"
        let tiers = try await run("jobsctl", ["tiers", "recalculate", "--as-of", asOf, "--json"])
        XCTAssertEqual(tiers.status, 0, tiers.output)
        let tierJob = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(tiers.output.utf8)) as? [String: Any])["id"] as? Int
        let administration = JobAdministration(database: fixture.pool)
        let queued = try await administration.show(Int64(tierJob ?? 0))?.job
        XCTAssertEqual(queued?.kind, RecalculateTiers.kind)
        XCTAssertEqual(queued?.queue, PlatformJobs.maintenanceQueue)
        let recalculation = try await fixture.jobs(RecalculateTiers.self).first { $0.id == Int64(tierJob ?? 0) }
        XCTAssertEqual(recalculation?.arguments.asOf, at(asOf))
        _ = try await administration.delete(Int64(tierJob ?? 0))

        let grade = try await run("jobsctl", ["exams", "grade", "42", "--as-of", asOf, "--json"])
        XCTAssertEqual(grade.status, 0, grade.output)
        let gradeJob = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(grade.output.utf8)) as? [String: Any])["id"] as? Int
        let grading = try await fixture.jobs(GradeExamSubmission.self).first { $0.id == Int64(gradeJob ?? 0) }
        XCTAssertEqual(grading?.arguments.submissionID, 42)
        XCTAssertEqual(grading?.arguments.asOf, at(asOf))
        _ = try await administration.delete(Int64(gradeJob ?? 0))

        for arguments in [
            ["tiers", "recalculate", "--as-of", "2025-03-01T00:30:00"], ["exams", "grade", "x"],
            ["exams", "regrade", "1", "--as-of", "soon"],
        ] {
            let refused = try await run("jobsctl", arguments)
            XCTAssertEqual(refused.status, 64, "\(arguments): \(refused.output)")
        }
    }
}
