import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// `jobsctl complaints`: bad input refused with exit status 64 and nothing
/// written; complaints filed, listed by SLA state, moved through their steps and
/// reported through the CLI.
final class JobsctlComplaintTests: XCTestCase {
    private func complaintCount(_ fixture: PlatformFixture) async throws -> Int64 {
        try await fixture.pool.query("SELECT count(*)::int8 FROM platform.complaints").scalar(Int64.self)
    }

    /// A completed order with a cleaner, served in January.
    private func completedOrder(_ fixture: PlatformFixture) async throws -> Int64 {
        let cleaner = try await fixture.cleaner().id
        let customer = try await fixture.customer().id
        return try await fixture.pool.query(
            """
            INSERT INTO platform.orders (customer_id, cleaner_id, service_type_id, address, latitude, longitude,
                appointment_start, duration_minutes, status, amount_fen, paid_fen, started_at, completed_at)
            VALUES ($1, $2, 1, 'x', 31, 121, $3, 60, '已完成', 10000, 10000, $3, $3) RETURNING id
            """, [customer, cleaner, ISO8601DateFormatter().date(from: "2026-01-04T10:00:00+08:00")!]
        ).scalar(Int64.self)
    }

    /// The complaint id a `complaints file` run printed ("complaint 12 filed (normal); …").
    private func filedID(_ run: JobsctlRun) throws -> Int64 {
        try XCTUnwrap(run.output.split(separator: " ").dropFirst().first.flatMap { Int64($0) }, run.output)
    }

    /// `complaints list --sla STATE --json`: the ids listed with their SLA state.
    private func listed(_ sla: String) async throws -> [Int64: String] {
        let run = try await JobsctlRun.run(["complaints", "list", "--sla", sla, "--limit", "100000", "--json"])
        XCTAssertEqual(run.status, 0, run.output)
        let rows = try XCTUnwrap(try run.json() as? [[String: Any]], run.output)
        return Dictionary(uniqueKeysWithValues: rows.compactMap { row in
            (row["id"] as? Int).map { (Int64($0), row["sla"] as? String ?? "?") }
        })
    }

    /// `complaints report --json`: missed (acknowledge, resolve) deadlines summed over the weeks shown.
    private func missedDeadlines() async throws -> (acknowledge: Int, resolve: Int) {
        let run = try await JobsctlRun.run(["complaints", "report", "--weeks", "12", "--json"])
        XCTAssertEqual(run.status, 0, run.output)
        let report = try XCTUnwrap(try run.json() as? [String: Any], run.output)
        let weeks = try XCTUnwrap(report["breachesPerWeek"] as? [[String: Any]], run.output)
        return (weeks.reduce(0) { $0 + ($1["acknowledgeMissed"] as? Int ?? 0) },
                weeks.reduce(0) { $0 + ($1["resolveMissed"] as? Int ?? 0) })
    }

    func testBadInputIsRefusedWithExit64BeforeAnythingIsWritten() async throws {
        let fixture = try PlatformFixture()
        let order = try await completedOrder(fixture)
        let before = try await complaintCount(fixture)
        let refusals: [([String], String)] = [
            (["complaints", "file", "\(order)"], "--reason is required"),
            (["complaints", "file", "\(order)", "--reason", "\u{3000}\u{200B}"], "--reason is blank"),
            (["complaints", "file", "\(order)", "--reason", "没拖地", "--severity", "severe"], #"--severity "severe" is not one of"#),
            (["complaints", "file", "\(order)", "--reason", "没拖地", "--at", "yesterday"], "--at"),
            (["complaints", "list", "--sla", "late"], #"--sla "late" is not one of within, breached, untracked, all"#),
            (["complaints", "resolve", "1"], "--outcome is required"),
            (["complaints", "resolve", "1", "--outcome", "maybe"], #"--outcome "maybe" is not upheld or rejected"#),
            (["complaints", "acknowledge", "seven"], "COMPLAINT"),
        ]
        for (arguments, message) in refusals {
            let run = try await JobsctlRun.run(arguments)
            XCTAssertEqual(run.status, 64, "\(arguments): \(run.output)")
            XCTAssertTrue(run.output.contains(message), "\(arguments): \(run.output)")
        }
        let after = try await complaintCount(fixture)
        XCTAssertEqual(after, before, "nothing written")
    }

    /// One complaint filed 30 days ago and ignored (both deadlines missed: breached),
    /// one filed now (within); each listed under its SLA state only. The late one
    /// is refused a skipped step, goes through every step to closed and leaves
    /// the open list; the report counts its two missed deadlines.
    func testFileListBySLAStateStepsAndReport() async throws {
        let fixture = try PlatformFixture()
        let order = try await completedOrder(fixture)
        let missedBefore = try await missedDeadlines()

        let lateRun = try await JobsctlRun.run(["complaints", "file", "\(order)", "--reason", "厨房没有打扫", "--at", "-30d"])
        XCTAssertEqual(lateRun.status, 0, lateRun.output)
        XCTAssertTrue(lateRun.output.contains("acknowledge missed → operator at "), lateRun.output)
        let late = try filedID(lateRun)
        let freshRun = try await JobsctlRun.run(["complaints", "file", "\(order)", "--reason", "窗户有水印", "--severity", "minor"])
        XCTAssertEqual(freshRun.status, 0, freshRun.output)
        let fresh = try filedID(freshRun)
        // The late one's escalation jobs are due at once; no worker here runs them, and
        // none in a later test may.
        let administration = JobAdministration(database: fixture.pool)
        for job in try await fixture.jobs(EscalateComplaint.self) where job.arguments.complaintID == late {
            _ = try await administration.cancel(job.id)
        }

        let breached = try await listed("breached")
        XCTAssertEqual(breached[late], "breached", "\(breached)")
        XCTAssertNil(breached[fresh], "\(breached)")
        let within = try await listed("within")
        XCTAssertEqual(within[fresh], "within", "\(within)")
        XCTAssertNil(within[late], "\(within)")
        let table = try await JobsctlRun.run(["complaints", "list", "--sla", "breached", "--limit", "100000"])
        XCTAssertEqual(table.status, 0, table.output)
        // The table: its deadlines shown with their zone, its SLA state.
        let row = table.output.split(separator: "\n").first { $0.hasPrefix("\(late) ") }
        XCTAssertTrue(table.output.hasPrefix("ID  ORDER  SEVERITY  STATUS  FILED"), table.output)
        XCTAssertTrue(row?.contains("Asia/Shanghai (UTC+08:00)") == true && row?.contains(" breached ") == true, table.output)

        let skipped = try await JobsctlRun.run(["complaints", "resolve", "\(late)", "--outcome", "upheld"])
        XCTAssertEqual(skipped.status, 1, skipped.output)
        XCTAssertTrue(skipped.output.contains("complaint \(late) is filed; it can become upheld only when"), skipped.output)
        for step in [["acknowledge"], ["investigate"], ["resolve", "--outcome", "upheld"], ["close"]] {
            let run = try await JobsctlRun.run(["complaints", step[0], "\(late)"] + step.dropFirst())
            XCTAssertEqual(run.status, 0, "\(step): \(run.output)")
        }
        let status = try await fixture.pool.query(
            "SELECT status, outcome FROM platform.complaints WHERE id = $1", [late]
        ).first?.decode((String, String?).self)
        XCTAssertEqual(status?.0, ComplaintStatus.closed.rawValue)
        XCTAssertEqual(status?.1, ComplaintStatus.upheld.rawValue)
        let open = try await listed("all")
        XCTAssertNil(open[late], "a closed complaint is not open: \(open)")
        XCTAssertNotNil(open[fresh], "\(open)")

        let missedAfter = try await missedDeadlines()
        XCTAssertEqual(missedAfter.acknowledge - missedBefore.acknowledge, 1, "before \(missedBefore), after \(missedAfter)")
        XCTAssertEqual(missedAfter.resolve - missedBefore.resolve, 1, "before \(missedBefore), after \(missedAfter)")
    }
}
