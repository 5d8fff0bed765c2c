import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Complaints: deadlines per severity in business hours of the business time
/// zone, escalation jobs scheduled at filing that act only on a missed deadline
/// (once), the state machine, upheld complaints in payouts, and the reports.
final class ComplaintSLATests: XCTestCase {
    private let shanghai = BusinessCalendar(timeZone: TimeZone(identifier: "Asia/Shanghai")!)

    private func at(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text)!
    }

    private func completedOrder(_ fixture: PlatformFixture) async throws -> (order: Int64, cleaner: Int64) {
        let cleaner = try await fixture.cleaner().id
        let customer = try await fixture.customer().id
        let order = try await fixture.pool.query(
            """
            INSERT INTO platform.orders (customer_id, cleaner_id, service_type_id, address, latitude, longitude,
                appointment_start, duration_minutes, status, amount_fen, paid_fen, started_at, completed_at)
            VALUES ($1, $2, 1, 'x', 31, 121, $3, 60, '已完成', 10000, 10000, $3, $3) RETURNING id
            """, [customer, cleaner, at("2026-01-04T10:00:00+08:00")]
        ).scalar(Int64.self)
        return (order, cleaner)
    }

    private func file(
        _ fixture: PlatformFixture, order: Int64, severity: ComplaintSeverity, at filed: Date
    ) async throws -> (id: Int64, escalations: [(ComplaintDeadline, EscalationLevel, Date)]) {
        try await fixture.pool.withConnection { connection in
            try ComplaintDesk.file(orderID: order, reason: "没有打扫厨房", severity: severity, now: filed, on: connection)
        }
    }

    /// Business hours 09:00–21:00 Shanghai. Filed Monday 20:00 (normal): one hour
    /// that evening and one on Tuesday: acknowledge by Tuesday 10:00; 48 business
    /// hours end Friday 20:00 (business hours run every day). The supervisor hears
    /// 4 business hours after the operator (Saturday 12:00 for the resolve
    /// deadline). Urgent, filed at 08:00 before opening: acknowledge by 09:30.
    func testDeadlinesCountBusinessHoursOfTheBusinessZoneInEverySessionZone() async throws {
        for zone in BusinessTimeTests.sessionZones {
            let fixture = try PlatformFixture(sessionTimeZone: zone)
            try await fixture.assertSessionZone(zone)
            let order = try await completedOrder(fixture).order
            let normal = try await file(fixture, order: order, severity: .normal, at: at("2026-11-23T20:00:00+08:00"))
            let schedule = normal.escalations.map { "\($0.0.rawValue) \($0.1.rawValue) \($0.2)" }
            XCTAssertEqual(schedule, [
                "acknowledge operator \(at("2026-11-24T10:00:00+08:00"))",
                "acknowledge supervisor \(at("2026-11-24T14:00:00+08:00"))",
                "resolve operator \(at("2026-11-27T20:00:00+08:00"))",
                "resolve supervisor \(at("2026-11-28T12:00:00+08:00"))",
            ], zone)
            let urgent = try await file(fixture, order: order, severity: .urgent, at: at("2026-11-23T08:00:00+08:00"))
            let due = try await fixture.pool.query(
                "SELECT acknowledge_due_at, resolve_due_at FROM platform.complaints WHERE id = $1", [urgent.id]
            ).first!.decode((Date, Date).self)
            XCTAssertEqual(due.0, at("2026-11-23T09:30:00+08:00"), zone)
            XCTAssertEqual(due.1, at("2026-11-23T17:00:00+08:00"), zone)
            // One escalation job per deadline and level, due when the schedule says.
            let jobs = try await fixture.jobs(EscalateComplaint.self).filter { $0.arguments.complaintID == normal.id }
            XCTAssertEqual(Set(jobs.map(\.runAt)), Set(normal.escalations.map(\.2)), zone)
        }
    }

    /// The app files through the SQL API (`platform.file_complaint`, run with its
    /// definer's rights): the same deadlines and escalation jobs as the back office.
    func testTheAppsFilingSetsDeadlinesAndSchedulesEscalations() async throws {
        let fixture = try PlatformFixture(sessionTimeZone: "America/Los_Angeles")
        let order = try await completedOrder(fixture).order
        let id = try await fixture.pool.query(
            "SELECT platform.file_complaint($1, '地板没拖', $2)", [order, at("2026-11-23T20:00:00+08:00")]
        ).scalar(Int64.self)
        let due = try await fixture.pool.query(
            "SELECT severity, acknowledge_due_at, resolve_due_at FROM platform.complaints WHERE id = $1", [id]
        ).first!.decode((String, Date, Date).self)
        XCTAssertEqual(due.0, ComplaintSeverity.normal.rawValue)
        XCTAssertEqual(due.1, at("2026-11-24T10:00:00+08:00"))
        XCTAssertEqual(due.2, at("2026-11-27T20:00:00+08:00"))
        let jobs = try await fixture.jobs(EscalateComplaint.self).filter { $0.arguments.complaintID == id }
        XCTAssertEqual(
            Set(jobs.map { "\($0.arguments.deadline.rawValue) \($0.arguments.level.rawValue) \($0.runAt)" }),
            ["acknowledge operator \(at("2026-11-24T10:00:00+08:00"))", "acknowledge supervisor \(at("2026-11-24T14:00:00+08:00"))",
             "resolve operator \(at("2026-11-27T20:00:00+08:00"))", "resolve supervisor \(at("2026-11-28T12:00:00+08:00"))"])
    }

    func testMissedDeadlinesEscalateOnceAndComplaintsHandledInTimeDoNot() async throws {
        let fixture = try PlatformFixture()
        let filed = at("2026-01-05T10:00:00+08:00")   // Monday; every deadline is long past
        let handled = try await completedOrder(fixture)
        let ignored = try await completedOrder(fixture)
        let inTime = try await file(fixture, order: handled.order, severity: .normal, at: filed).id
        let missed = try await file(fixture, order: ignored.order, severity: .normal, at: filed).id
        try await fixture.pool.withConnection { connection in
            try ComplaintDesk.move(inTime, to: .acknowledged, now: filed.addingTimeInterval(1800), on: connection)
            try ComplaintDesk.move(inTime, to: .investigating, now: filed.addingTimeInterval(2400), on: connection)
            try ComplaintDesk.move(inTime, to: .upheld, now: filed.addingTimeInterval(3600), on: connection)
        }
        let escalations = { (complaint: Int64) in
            try await fixture.pool.query(
                "SELECT deadline || ' ' || level FROM platform.complaint_escalations WHERE complaint_id = $1 ORDER BY 1",
                [complaint]
            ).rows.map { try $0.decode(0, as: String.self) }
        }
        let services = PlatformServices(provider: RecordingProvider(), log: .silent)
        try await fixture.running(services) {
            let done = try await fixture.eventually {
                try await fixture.jobs(EscalateComplaint.self).filter { [inTime, missed].contains($0.arguments.complaintID) }
                    .allSatisfy { $0.state == .completed }
            }
            XCTAssertTrue(done)
        }
        // A second run of one of them (a retry) tells nobody again.
        try await fixture.complete(
            try JobRequest(EscalateComplaint(complaintID: missed, deadline: .acknowledge, level: .operator), queue: EscalateComplaint.queue))

        let value1 = try await escalations(inTime)
        XCTAssertEqual(value1, [])
        let missedEscalations = try await escalations(missed)
        XCTAssertEqual(
            missedEscalations,
            ["acknowledge operator", "acknowledge supervisor", "resolve operator", "resolve supervisor"])
        let messages = try await fixture.pool.query(
            """
            SELECT n.recipient FROM platform.notifications AS n
            JOIN platform.complaint_escalations AS e ON n.dedupe_key = 'complaint_escalated:' || e.id
            WHERE e.complaint_id = $1 ORDER BY n.recipient
            """, [missed]
        ).rows.map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(messages, ["+8613800000001", "+8613800000001", "+8613800000002", "+8613800000002"], "operator and supervisor, for each deadline")
        XCTAssertEqual(messages.count, 4, "one message per escalation")

        // Reports: the ignored complaint is open and breached; its week shows both deadlines missed.
        let now = Date()
        let zone = shanghai.timeZone
        let (breached, weeks) = try await fixture.pool.withConnection { connection in
            (try ComplaintReport.open(sla: .breached, now: now, limit: 100_000, on: connection),
             try ComplaintReport.breachesPerWeek(
                 since: filed, now: filed.addingTimeInterval(7 * 86_400), timeZone: zone, on: connection))
        }
        XCTAssertTrue(breached.contains { $0.id == missed && $0.escalations == 4 })
        XCTAssertFalse(breached.contains { $0.id == inTime }, "resolved complaints are not open")
        XCTAssertEqual(weeks.map { "\($0.week) \($0.acknowledge) \($0.resolve) \($0.escalations)" }, ["2026-W02 1 1 4"])

        // Upheld counts against the cleaner in that week's payout.
        let week = try PayoutPeriod("2026-W02", timeZone: shanghai.timeZone)
        let lines = try await fixture.pool.withConnection { try PayoutRun.dryRun(week, on: $0).lines }
        XCTAssertEqual(lines.first { $0.cleanerID == handled.cleaner }?.penaltyFen, 2000)
        XCTAssertNil(lines.first { $0.cleanerID == ignored.cleaner })
    }

    func testTheStateMachineRefusesSkippedSteps() async throws {
        let fixture = try PlatformFixture()
        let order = try await completedOrder(fixture).order
        let id = try await file(fixture, order: order, severity: .minor, at: Date()).id
        try await fixture.pool.withConnection { connection in
            XCTAssertThrowsError(try ComplaintDesk.move(id, to: .upheld, now: Date(), on: connection)) { error in
                XCTAssertEqual("\(error)", "complaint \(id) is filed; it can become upheld only when investigating")
            }
            XCTAssertThrowsError(try ComplaintDesk.move(id + 1_000_000, to: .acknowledged, now: Date(), on: connection))
            // The database refuses it too, whoever writes.
            XCTAssertThrowsError(try connection.execute(
                "UPDATE platform.complaints SET status = 'closed', outcome = 'rejected', resolved_at = now(), closed_at = now() WHERE id = $1",
                [id]))
            try ComplaintDesk.move(id, to: .acknowledged, now: Date(), on: connection)
            try ComplaintDesk.move(id, to: .investigating, now: Date(), on: connection)
            try ComplaintDesk.move(id, to: .rejected, now: Date(), on: connection)
            try ComplaintDesk.move(id, to: .closed, now: Date(), on: connection)
            let row = try connection.query("SELECT status, outcome FROM platform.complaints WHERE id = $1", [id]).first!
            XCTAssertEqual(try row.decode((String, String).self).0, "closed")
            XCTAssertEqual(try row.decode((String, String).self).1, "rejected", "the outcome stays after closing")
        }
        XCTAssertThrowsError(try ComplaintDesk.file(
            orderID: order, reason: " \u{3000}", severity: .normal, now: Date(),
            on: try PostgresConnection.connect(fixture.configuration)))
    }
}
