import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The weekly quality run: scores from ratings, upheld complaints and late starts
/// in the window, thresholds from the rules table, one decision per cleaner and
/// week with its inputs, suspensions out of dispatch and back, rewards and fines
/// through the next payout run.
final class ServiceQualityTests: XCTestCase {
    private let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    /// A completed order (its start `lateMinutes` after the appointment) and, when
    /// `rating` is given, its review without a comment (so no 5-star payout bonus).
    private func serviceDone(
        _ fixture: PlatformFixture, cleaner: Int64, customer: Int64, at appointment: Date, lateMinutes: Double = 0,
        rating: Int16? = nil
    ) async throws -> Int64 {
        let order = try await fixture.pool.query(
            """
            INSERT INTO platform.orders (customer_id, cleaner_id, service_type_id, address, latitude, longitude,
                appointment_start, duration_minutes, status, amount_fen, paid_fen, started_at, completed_at)
            VALUES ($1, $2, 1, 'x', 31, 121, $3, 60, '已完成', 10000, 10000, $4, $5) RETURNING id
            """,
            [customer, cleaner, appointment, appointment.addingTimeInterval(lateMinutes * 60), appointment.addingTimeInterval(7200)]
        ).scalar(Int64.self)
        if let rating {
            _ = try await fixture.pool.query(
                "INSERT INTO platform.reviews (order_id, rating, comment, created_at) VALUES ($1, $2, '', $3)",
                [order, rating, appointment.addingTimeInterval(3 * 3600)])
        }
        return order
    }

    private func decision(_ fixture: PlatformFixture, _ cleaner: Int64, _ week: PayoutPeriod) async throws
        -> (score: Int32, outcome: String, bonus: Int64, fine: Int64, inputs: String)?
    {
        try await fixture.pool.query(
            "SELECT score, outcome, bonus_fen, fine_fen, inputs::text FROM platform.quality_decisions WHERE cleaner_id = $1 AND period = $2",
            [cleaner, week.name]
        ).first.map { try $0.decode((Int32, String, Int64, Int64, String).self) }
    }

    private func status(_ fixture: PlatformFixture, _ cleaner: Int64) async throws -> String {
        try await fixture.pool.query("SELECT status FROM platform.cleaners WHERE id = $1", [cleaner]).scalar(String.self)
    }

    private func score(_ fixture: PlatformFixture, _ week: PayoutPeriod, at now: Date) async throws {
        try await fixture.complete(
            try JobRequest(ScoreServiceQuality(period: week.name), queue: PlatformJobs.maintenanceQueue), clock: .fixed(now))
    }

    func testThresholdsDecideOncePerWeekWithInputsAndTheNextPayoutRunPaysOrDeducts() async throws {
        let fixture = try PlatformFixture()
        let week = try PlatformFixture.uniquePayoutPeriod()
        let during = week.end.addingTimeInterval(-2 * 86_400)
        let customer = try await fixture.customer().id
        var cleaners: [String: (id: Int64, phone: String)] = [:]
        for name in ["reward", "warning", "fine", "suspension", "complaint", "late", "quiet"] {
            cleaners[name] = try await fixture.cleaner()
        }
        for index in 0..<5 {
            _ = try await serviceDone(
                fixture, cleaner: cleaners["reward"]!.id, customer: customer, at: during.addingTimeInterval(Double(index) * 3600), rating: 5)
        }
        for rating: Int16 in [4, 3] {   // 3.5 → 70
            _ = try await serviceDone(fixture, cleaner: cleaners["warning"]!.id, customer: customer, at: during, rating: rating)
        }
        _ = try await serviceDone(fixture, cleaner: cleaners["fine"]!.id, customer: customer, at: during, rating: 3)   // 60
        _ = try await serviceDone(fixture, cleaner: cleaners["suspension"]!.id, customer: customer, at: during, rating: 2)   // 40
        // No review (80), one upheld complaint (−15): 65.
        let complained = try await serviceDone(fixture, cleaner: cleaners["complaint"]!.id, customer: customer, at: during)
        _ = try await fixture.pool.query(
            """
            INSERT INTO platform.complaints (order_id, reason, status, outcome, created_at, resolved_at)
            VALUES ($1, '迟到', 'upheld', 'upheld', $2, $2)
            """, [complained, during.addingTimeInterval(86_400)])
        // 5 stars, two starts 20 minutes late (−5 each); a start 15 minutes late is within the grace.
        _ = try await serviceDone(fixture, cleaner: cleaners["late"]!.id, customer: customer, at: during, lateMinutes: 20, rating: 5)
        _ = try await serviceDone(fixture, cleaner: cleaners["late"]!.id, customer: customer, at: during, lateMinutes: 20)
        let offered = try await serviceDone(fixture, cleaner: cleaners["late"]!.id, customer: customer, at: during, lateMinutes: 15)
        // Two dispatch offers declined or left to expire (−2 each): 86.
        for (generation, status) in [(1, "declined"), (2, "expired")] {
            _ = try await fixture.pool.query(
                """
                INSERT INTO platform.dispatch_offers (order_id, cleaner_id, generation, round, rank, score, components,
                    status, offered_at, expires_at, answered_at)
                VALUES ($1, $2, $3, 1, 1, 1.0, '{}', $4, $5, $5, $5)
                """, [offered, cleaners["late"]!.id, Int32(generation), status, during.addingTimeInterval(-3600)])
        }

        let monday = week.end.addingTimeInterval(3 * 3600)
        try await score(fixture, week, at: monday)
        try await score(fixture, week, at: monday.addingTimeInterval(3600))   // a second run decides nothing again

        let expected: [(String, Int32, String, Int64, Int64)] = [
            ("reward", 100, "reward", 5000, 0), ("warning", 70, "warning", 0, 0), ("fine", 60, "fine", 0, 5000),
            ("suspension", 40, "suspension", 0, 5000), ("complaint", 65, "warning", 0, 0), ("late", 86, "none", 0, 0),
            ("quiet", 80, "none", 0, 0),
        ]
        for (name, score, outcome, bonus, fine) in expected {
            let decided = try await decision(fixture, cleaners[name]!.id, week)
            XCTAssertEqual(decided?.score, score, name)
            XCTAssertEqual(decided?.outcome, outcome, name)
            XCTAssertEqual(decided?.bonus, bonus, name)
            XCTAssertEqual(decided?.fine, fine, name)
        }
        let lateInputs = try await decision(fixture, cleaners["late"]!.id, week)!.inputs
        for part in [
            "\"late_starts\": 2", "\"completed_orders\": 3", "\"reviews\": 1", "\"unanswered_offers\": 2",
            "\"late_start_grace_minutes\": 15",
        ] {
            XCTAssertTrue(lateInputs.contains(part), "\(part) in \(lateInputs)")
        }
        let value1 = try await decision(fixture, cleaners["complaint"]!.id, week)!.inputs.contains("\"upheld_complaints\": 1")
        XCTAssertTrue(value1)
        let decisions = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM platform.quality_decisions WHERE period = $1 AND cleaner_id = ANY($2)",
            [week.name, cleaners.values.map(\.id)]
        ).scalar(Int64.self)
        XCTAssertEqual(decisions, 7, "one decision per cleaner however often the week is scored")

        // Suspended: out of dispatch (status), until 14 business days later.
        let suspended = cleaners["suspension"]!.id
        let value2 = try await status(fixture, suspended)
        XCTAssertEqual(value2, CleanerStatus.suspended)
        let until = try await fixture.pool.query(
            "SELECT suspended_until FROM platform.cleaner_suspensions WHERE cleaner_id = $1", [suspended]
        ).rows.map { try $0.decode(0, as: Date.self) }
        XCTAssertEqual(until, [BusinessCalendar(timeZone: shanghai).adding(days: 14, to: monday)])
        let value3 = try await status(fixture, cleaners["fine"]!.id)
        XCTAssertEqual(value3, CleanerStatus.active)

        // Told once each; nothing for "none".
        let told: [(String, String)] = [
            ("reward", "quality_reward"), ("warning", "quality_warning"), ("fine", "quality_fine"),
            ("suspension", "quality_suspended"), ("complaint", "quality_warning"),
        ]
        for (name, template) in told {
            let value4 = try await fixture.notifications(to: cleaners[name]!.phone).map(\.0)
            XCTAssertEqual(value4, [template], name)
        }
        let value5 = try await fixture.notifications(to: cleaners["late"]!.phone).count
        XCTAssertEqual(value5, 0)

        // The scored week's payout run has no reward or fine; the next week's pays and deducts them once.
        let nextWeek = PayoutPeriod.previous(to: monday.addingTimeInterval(7 * 86_400), timeZone: shanghai)
        let lines = try await fixture.pool.withConnection { connection in
            let scored = try PayoutRun.start(week, on: connection)
            let next = try PayoutRun.start(nextWeek, on: connection)
            _ = try PayoutRun.start(nextWeek, on: connection)
            return (try PayoutRun.lines(scored.runID, on: connection), try PayoutRun.lines(next.runID, on: connection))
        }
        let rewarded = cleaners["reward"]!.id
        XCTAssertEqual(lines.0.first { $0.cleanerID == rewarded }?.bonusFen, 0)
        let next = Dictionary(lines.1.map { ($0.cleanerID, $0) }, uniquingKeysWith: { first, _ in first })
        XCTAssertEqual(next[rewarded]?.bonusFen, 5000)
        XCTAssertEqual(next[cleaners["fine"]!.id]?.penaltyFen, 5000)
        XCTAssertEqual(next[suspended]?.penaltyFen, 5000)
        XCTAssertNil(next[cleaners["warning"]!.id], "a warning costs nothing")
        XCTAssertEqual(lines.1.filter { $0.cleanerID == rewarded }.count, 1)
        let value6 = try await fixture.unbalancedLedgerTransactions()
        XCTAssertEqual(value6, 0)
        let audit = try await fixture.pool.withConnection { try PayoutRunAudit.of(nextWeek, on: $0) }
        XCTAssertEqual(audit.linesDifferingFromSources, 0, "the audit's independent figures include the rewards and fines")
        XCTAssertEqual(audit.expectedLines, audit.lines)
    }

    func testSuspensionEndsAfterItsPeriodOrEarlierOnAPassedExam() async throws {
        let fixture = try PlatformFixture()
        let week = try PlatformFixture.uniquePayoutPeriod()
        let customer = try await fixture.customer().id
        let examined = try await fixture.cleaner()
        let waiting = try await fixture.cleaner()
        for cleaner in [examined.id, waiting.id] {
            _ = try await serviceDone(fixture, cleaner: cleaner, customer: customer, at: week.end.addingTimeInterval(-86_400), rating: 1)
        }
        let monday = week.end.addingTimeInterval(3 * 3600)
        try await score(fixture, week, at: monday)
        let value7 = try await status(fixture, examined.id)
        XCTAssertEqual(value7, CleanerStatus.suspended)
        let value8 = try await status(fixture, waiting.id)
        XCTAssertEqual(value8, CleanerStatus.suspended)

        // A re-certification exam passed two days later.
        _ = try await fixture.pool.withTransaction { connection in
            let exam = try connection.query(
                "INSERT INTO platform.exams (skill, title, pass_mark) VALUES ('daily_cleaning', '复训', 0) RETURNING id"
            ).scalar(Int64.self)
            try connection.execute(
                """
                INSERT INTO platform.exam_submissions (exam_id, cleaner_id, answers, status, score, passed, submitted_at, graded_at)
                VALUES ($1, $2, '{}', 'graded', 0, true, $3, $3)
                """, [exam, examined.id, monday.addingTimeInterval(2 * 86_400)])
        }
        let reinstate = { (at: Date) in
            try await fixture.complete(try JobRequest(ReinstateCleaners(), queue: PlatformJobs.maintenanceQueue), clock: .fixed(at))
        }
        try await reinstate(monday.addingTimeInterval(86_400))
        let value9 = try await status(fixture, examined.id)
        XCTAssertEqual(value9, CleanerStatus.suspended, "the exam is not passed yet")
        try await reinstate(monday.addingTimeInterval(3 * 86_400))
        let value10 = try await status(fixture, examined.id)
        XCTAssertEqual(value10, CleanerStatus.active)
        let value11 = try await status(fixture, waiting.id)
        XCTAssertEqual(value11, CleanerStatus.suspended)
        try await reinstate(monday.addingTimeInterval(14 * 86_400))
        let value12 = try await status(fixture, waiting.id)
        XCTAssertEqual(value12, CleanerStatus.active)
        try await reinstate(monday.addingTimeInterval(15 * 86_400))

        let ended = try await fixture.pool.query(
            "SELECT cleaner_id, reinstated_reason FROM platform.cleaner_suspensions WHERE cleaner_id = ANY($1) ORDER BY cleaner_id",
            [[examined.id, waiting.id]]
        ).rows.map { try $0.decode((Int64, String).self) }
        XCTAssertEqual(ended.map(\.1), ["exam_passed", "period_over"])
        for cleaner in [examined, waiting] {
            let told = try await fixture.notifications(to: cleaner.phone).map(\.0)
            XCTAssertEqual(
                told, ["quality_suspended", "quality_reinstated"],
                "told of the suspension and of its end, once")
        }
    }

    /// A cleaner who backs out of an accepted order (the app's
    /// `platform.cleaner_cancel_order`): refused for another cleaner; the order waits
    /// and is dispatched again, the cancellation is recorded, and the week's score
    /// loses its points (80 without reviews − 10 = 70: a warning), the count among
    /// the decision's inputs.
    func testCancellationsByTheCleanerCountAgainstTheScore() async throws {
        let fixture = try PlatformFixture()
        let week = try PlatformFixture.uniquePayoutPeriod()
        let during = week.end.addingTimeInterval(-2 * 86_400)
        let customer = try await fixture.customer().id
        let cleaner = try await fixture.cleaner()
        let other = try await fixture.cleaner()
        let order = try await fixture.pool.query(
            """
            INSERT INTO platform.orders (customer_id, cleaner_id, service_type_id, address, latitude, longitude,
                appointment_start, duration_minutes, status, amount_fen, paid_fen, accepted_at)
            VALUES ($1, $2, 1, 'x', 31, 121, $3, 60, '已接单', 10000, 10000, $4) RETURNING id
            """, [customer, cleaner.id, during.addingTimeInterval(86_400), during.addingTimeInterval(-3600)]
        ).scalar(Int64.self)
        try await fixture.pool.withConnection { connection in
            XCTAssertThrowsError(
                try OrderBooking.cancelByCleaner(orderID: order, cleanerID: other.id, reason: "有事", now: during, on: connection)
            ) { XCTAssertTrue("\($0)".contains("is not assigned to cleaner"), "\($0)") }
            try OrderBooking.cancelByCleaner(orderID: order, cleanerID: cleaner.id, reason: "临时有事", now: during, on: connection)
        }
        let after = try await fixture.pool.query(
            """
            SELECT o.status, o.cleaner_id, d.status, (SELECT count(*) FROM platform.cleaner_cancellations AS k
                                                      WHERE k.order_id = o.id AND k.cleaner_id = $2)::int8
            FROM platform.orders AS o JOIN platform.order_dispatches AS d ON d.order_id = o.id WHERE o.id = $1
            """, [order, cleaner.id]
        ).first!.decode((String, Int64?, String, Int64).self)
        XCTAssertEqual(after.0, "待接单")
        XCTAssertNil(after.1)
        XCTAssertEqual(after.2, "offering", "dispatched again")
        XCTAssertEqual(after.3, 1)

        try await score(fixture, week, at: week.end.addingTimeInterval(3 * 3600))
        let decided = try await decision(fixture, cleaner.id, week)
        XCTAssertEqual(decided?.score, 70)
        XCTAssertEqual(decided?.outcome, "warning")
        XCTAssertTrue(decided?.inputs.contains(#""cleaner_cancellations": 1"#) ?? false, decided?.inputs ?? "no decision")
    }
}
