import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Calendar periods, windows and expiries are computed in the business time zone
/// (Asia/Shanghai): the same cases give the same results whatever the database
/// session's TimeZone is.
final class BusinessTimeTests: XCTestCase {
    static let sessionZones = ["UTC", "Asia/Shanghai", "America/Los_Angeles"]
    private let shanghai = BusinessCalendar(timeZone: TimeZone(identifier: "Asia/Shanghai")!)

    private func at(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text)!
    }

    func testMonthArithmeticAtMonthEndsAndLeapDays() {
        let cases: [(String, Int, String)] = [
            ("2024-01-31T00:30:00+08:00", 1, "2024-02-29T00:30:00+08:00"),
            ("2025-01-31T23:59:00+08:00", 1, "2025-02-28T23:59:00+08:00"),
            ("2024-02-29T00:30:00+08:00", 12, "2025-02-28T00:30:00+08:00"),
            ("2025-03-01T00:30:00+08:00", -12, "2024-03-01T00:30:00+08:00"),
            ("2024-03-31T00:30:00+08:00", -1, "2024-02-29T00:30:00+08:00"),
            ("2028-02-29T12:00:00+08:00", -48, "2024-02-29T12:00:00+08:00"),
            ("2028-02-29T12:00:00+08:00", -24, "2026-02-28T12:00:00+08:00"),
            ("2024-03-31T12:00:00+08:00", -13, "2023-02-28T12:00:00+08:00"),
            ("2024-12-31T23:59:59+08:00", 2, "2025-02-28T23:59:59+08:00"),
            ("2025-01-15T08:00:00+08:00", -1, "2024-12-15T08:00:00+08:00"),
            ("2025-01-15T08:00:00+08:00", -25, "2022-12-15T08:00:00+08:00"),
        ]
        for (start, months, expected) in cases {
            XCTAssertEqual(shanghai.adding(months: months, to: at(start)), at(expected), "\(start) + \(months) months")
        }
    }

    func testDaysAndTimesAsPeopleReadThem() {
        let appointment = at("2026-01-10T09:00:00+08:00")
        // In UTC the 24 h reminder and the appointment fall on the same date; in Shanghai it is tomorrow.
        XCTAssertEqual(shanghai.dayWord(for: appointment, seenAt: at("2026-01-09T09:00:00+08:00")), "明天")
        XCTAssertEqual(shanghai.dayWord(for: appointment, seenAt: at("2026-01-10T00:10:00+08:00")), "今天")
        XCTAssertEqual(shanghai.dayWord(for: appointment, seenAt: at("2026-01-08T23:59:00+08:00")), "后天")
        XCTAssertEqual(shanghai.dayWord(for: appointment, seenAt: at("2026-01-01T10:00:00+08:00")), "1月10日")
        XCTAssertEqual(shanghai.timeOfDay(appointment), "09:00")
        // Marketing quiet hours open at 08:00 local.
        let policy = FlowControlPolicy()
        XCTAssertEqual(policy.quietUntil(at("2026-11-23T22:00:00+08:00"), calendar: shanghai), at("2026-11-24T08:00:00+08:00"))
        XCTAssertEqual(policy.quietUntil(at("2026-11-23T07:59:00+08:00"), calendar: shanghai), at("2026-11-23T08:00:00+08:00"))
        XCTAssertNil(policy.quietUntil(at("2026-11-23T08:00:00+08:00"), calendar: shanghai))
    }

    func testTheConfiguredZoneIsReadOnceAndAnUnknownOneIsRefused() throws {
        XCTAssertEqual(try BusinessTimeZone.fromEnvironment([:]).identifier, "Asia/Shanghai")
        XCTAssertEqual(try BusinessTimeZone.fromEnvironment(["BUSINESS_TIME_ZONE": "Europe/Berlin"]).identifier, "Europe/Berlin")
        for name in ["Mars/Olympus", "CST", "asia/shanghai", "GMT+8"] {
            XCTAssertThrowsError(try BusinessTimeZone.fromEnvironment(["BUSINESS_TIME_ZONE": name])) { error in
                XCTAssertTrue("\(error)".contains(name), "\(error)")
            }
        }
        XCTAssertEqual(try BusinessTimeZone.fromEnvironment(["BUSINESS_TIME_ZONE": "UTC"]).secondsFromGMT(), 0)
    }

    /// The 12-month growth window ends at 2025-03-01 00:30 Shanghai: it starts at
    /// 2024-03-01 00:30 Shanghai. Counted in a UTC or Los Angeles session it would
    /// start on 29 February and take in the first order.
    func testTierWindowIsTwelveBusinessMonthsInEverySessionZone() async throws {
        let now = at("2025-03-01T00:30:00+08:00")
        for zone in Self.sessionZones {
            let fixture = try PlatformFixture(sessionTimeZone: zone)
            try await fixture.assertSessionZone(zone)
            let cleaner = try await fixture.cleaner().id
            let customer = try await fixture.customer().id
            for (paid, completed) in [(Int64(100_000), "2024-02-29T12:00:00+08:00"), (50_000, "2024-03-01T00:30:01+08:00")] {
                _ = try await fixture.pool.query(
                    """
                    INSERT INTO platform.orders (customer_id, cleaner_id, service_type_id, address, latitude, longitude,
                        appointment_start, duration_minutes, status, amount_fen, paid_fen, completed_at)
                    VALUES ($1, $2, 1, 'x', 31, 121, $3, 60, '已完成', $4, $4, $3)
                    """, [customer, cleaner, at(completed), paid])
            }
            try await fixture.complete(try JobRequest(RecalculateTiers(asOf: now), queue: PlatformJobs.maintenanceQueue))
            let (growth, tier) = try await fixture.pool.query(
                """
                SELECT c.growth_value, t.name FROM platform.customers AS c JOIN platform.member_tiers AS t ON t.id = c.tier_id
                WHERE c.id = $1
                """, [customer]
            ).first!.decode((Int64, String).self)
            XCTAssertEqual(growth, 500, "session zone \(zone): only the order after 2024-03-01 00:30 Shanghai counts")
            XCTAssertEqual(tier, "普通", "session zone \(zone)")
        }
    }

    /// Certifications run for the exam's months from the pass, in business months:
    /// granted 31 January 00:30 Shanghai for 1 month → 29 February 00:30; granted
    /// 29 February 00:30 for 12 months → 28 February 00:30 next year.
    func testCertificationExpiryInEverySessionZone() async throws {
        for zone in Self.sessionZones {
            let fixture = try PlatformFixture(sessionTimeZone: zone)
            let cleaner = try await fixture.cleaner().id
            for (granted, months, expires) in [
                ("2024-01-31T00:30:00+08:00", 1, "2024-02-29T00:30:00+08:00"),
                ("2024-02-29T00:30:00+08:00", 12, "2025-02-28T00:30:00+08:00"),
            ] {
                let skill = "skill-\(UUID().uuidString.prefix(8))"
                let submission = try await fixture.pool.withTransaction { connection -> Int64 in
                    let exam = try connection.query(
                        """
                        INSERT INTO platform.exams (skill, title, pass_mark, certification_months)
                        VALUES ($1, '认证', 5, $2::int4) RETURNING id
                        """, [skill, Int64(months)]
                    ).scalar(Int64.self)
                    let question = try connection.query(
                        """
                        INSERT INTO platform.exam_questions (exam_id, position, kind, points, answer_key)
                        VALUES ($1, 1, 'true_false', 5, 'true') RETURNING id
                        """, [exam]
                    ).scalar(Int64.self)
                    return try connection.query(
                        "INSERT INTO platform.exam_submissions (exam_id, cleaner_id, answers) VALUES ($1, $2, $3::jsonb) RETURNING id",
                        [exam, cleaner, #"{"\#(question)": true}"#]
                    ).scalar(Int64.self)
                }
                try await fixture.complete(try JobRequest(GradeExamSubmission(submissionID: submission, asOf: at(granted))))
                let (grantedAt, expiresAt) = try await fixture.pool.query(
                    "SELECT granted_at, expires_at FROM platform.certifications WHERE cleaner_id = $1 AND skill = $2",
                    [cleaner, skill]
                ).first!.decode((Date, Date).self)
                XCTAssertEqual(grantedAt, at(granted), "session zone \(zone)")
                XCTAssertEqual(expiresAt, at(expires), "session zone \(zone): \(granted) + \(months) months")
            }
        }
    }

    /// The coupon reminder covers coupons ending 2 to 3 business days ahead. Los
    /// Angeles moves its clocks on 8 March 2026: "now + 3 days" counted there ends an
    /// hour early and would miss a coupon ending at 09:30 Shanghai on 9 March.
    func testCouponReminderWindowInEverySessionZone() async throws {
        let now = at("2026-03-06T10:00:00+08:00")
        for zone in Self.sessionZones {
            let fixture = try PlatformFixture(sessionTimeZone: zone)
            let customer = try await fixture.customer().id
            let template = try await fixture.pool.query(
                "INSERT INTO platform.coupon_templates (name, discount_fen, valid_days) VALUES ('满100减10', 1000, 30) RETURNING id"
            ).scalar(Int64.self)
            let coupon = try await fixture.pool.query(
                """
                INSERT INTO platform.coupons (template_id, customer_id, valid_from, valid_until)
                VALUES ($1, $2, $3, $4) RETURNING id
                """, [template, customer, at("2026-02-01T00:00:00+08:00"), at("2026-03-09T09:30:00+08:00")]
            ).scalar(Int64.self)
            try await fixture.complete(
                JobRequest(kind: RemindExpiringCoupons.kind, queue: PlatformJobs.maintenanceQueue), clock: .fixed(now))
            let reminded = try await fixture.pool.query(
                "SELECT reminded_at FROM platform.coupons WHERE id = $1", [coupon]).scalar(Date?.self)
            XCTAssertEqual(reminded, now, "session zone \(zone)")
            let params = try await fixture.pool.query(
                "SELECT params->>'date' FROM platform.notifications WHERE dedupe_key = $1",
                ["coupon_expiring:\(customer):2026-03-06"]
            ).scalar(String.self)
            XCTAssertEqual(params, "3月9日", "session zone \(zone)")
        }
    }

    /// A payout week is Monday 00:00 to Monday 00:00 in Shanghai: an order completed
    /// half an hour into the week counts in it, one half an hour before does not.
    func testPayoutWeekBoundsInEverySessionZone() async throws {
        for zone in Self.sessionZones {
            let fixture = try PlatformFixture(sessionTimeZone: zone)
            let period = try PlatformFixture.uniquePayoutPeriod()
            XCTAssertEqual(shanghai.timeOfDay(period.start), "00:00")
            let customer = try await fixture.customer().id
            let cleaner = try await fixture.cleaner(level: "新手")
            try await fixture.completedOrder(customer: customer, cleaner: cleaner, paid: 10_000, at: period.start.addingTimeInterval(1_800))
            try await fixture.completedOrder(customer: customer, cleaner: cleaner, paid: 20_000, at: period.start.addingTimeInterval(-1_800))
            let lines = try await fixture.pool.withConnection { try PayoutRun.dryRun(period, on: $0).lines }
            let line = lines.first { $0.cleanerID == cleaner }
            XCTAssertEqual(line?.orders, 1, "session zone \(zone)")
            XCTAssertEqual(line?.grossFen, 10_000, "session zone \(zone)")
        }
    }

    /// A marketing message that cannot go out before its validity ends is suppressed
    /// with a reason that shows the opening time in business time, with its zone.
    func testQuietHoursReasonShowsBusinessTimeWithItsZone() async throws {
        let fixture = try PlatformFixture(sessionTimeZone: "America/Los_Angeles")
        let template = TestDatabase.uniqueName("marketing")
        _ = try await fixture.pool.query(
            """
            INSERT INTO platform.notification_templates (code, channel, category, body, validity_minutes)
            VALUES ($1, 'sms', 'marketing', '【洁家】新春特惠', 60)
            """, [template])
        let phone = PlatformFixture.phone()
        let now = at("2026-11-23T22:00:00+08:00")
        let id = try await fixture.pool.withTransaction { connection in
            try NotificationOutbox.queue(
                template: template, parameters: [:], recipient: phone, dedupeKey: template, now: now, on: connection)
        }
        try await fixture.running(PlatformServices(clock: .fixed(now), provider: RecordingProvider(), log: .silent)) {
            _ = try await fixture.eventually {
                try await fixture.pool.query("SELECT status FROM platform.notifications WHERE id = $1", [id]).scalar(String.self)
                    != "pending"
            }
        }
        let (status, reason) = try await fixture.pool.query(
            "SELECT status, failure_reason FROM platform.notifications WHERE id = $1", [id]
        ).first!.decode((String, String?).self)
        XCTAssertEqual(status, "suppressed")
        XCTAssertEqual(
            reason, "quiet hours: marketing may not be sent before 2026-11-24 08:00:00 Asia/Shanghai (UTC+08:00), past its validity")
    }

    /// The 24-hour reminder names the day as the customer reads it when it goes out.
    func testReminderSaysTomorrowOnlyWhenItIsTomorrow() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let appointment = at("2026-01-10T09:00:00+08:00")
        for (sentAt, expected) in [
            ("2026-01-09T09:00:00+08:00", "【洁家】您预约的日常保洁将于明天09:00开始"),
            ("2026-01-10T06:00:00+08:00", "【洁家】您预约的日常保洁将于今天09:00开始"),
        ] {
            _ = try await fixture.order(customerID: customer.id, appointment: appointment, now: at("2026-01-01T10:00:00+08:00"))
            let provider = RecordingProvider()
            let services = PlatformServices(clock: .fixed(at(sentAt)), provider: provider, log: .silent)
            try await fixture.running(services) {
                _ = try await fixture.eventually { try await fixture.unfinishedJobs() == 0 && !provider.messages.isEmpty }
            }
            let bodies = provider.messages.filter { $0.recipient == customer.phone }.map(\.body)
            XCTAssertTrue(bodies.contains { $0.hasPrefix(expected) }, "\(sentAt): \(bodies)")
            _ = try await fixture.pool.query("DELETE FROM platform.notifications WHERE recipient = $1", [customer.phone])
        }
    }
}

extension PlatformFixture {
    /// The test database with every session's TimeZone set to `zone`.
    init(sessionTimeZone zone: String) throws {
        try TestDatabase.migrate()
        let url = try TestDatabase.url
        let option = "options=-c%20TimeZone%3D" + zone.replacingOccurrences(of: "/", with: "%2F")
        configuration = PostgresConfiguration(conninfo: url + (url.contains("?") ? "&" : "?") + option, applicationName: "tests")
        pool = PostgresPool(configuration: configuration, maxConnections: 4)
    }

    /// Fails unless the sessions really run in `zone` (so a passing test means something).
    func assertSessionZone(_ zone: String, file: StaticString = #filePath, line: UInt = #line) async throws {
        let shown = try await pool.query("SELECT current_setting('TimeZone')").scalar(String.self)
        XCTAssertEqual(shown, zone, file: file, line: line)
    }

    /// Enqueues `request` and runs the platform's workers until it completed.
    func complete(_ request: JobRequest, clock: PlatformClock = .system) async throws {
        let id = try await JobQueueClient(database: pool).enqueue(request).id
        try await running(PlatformServices(clock: clock, provider: RecordingProvider(), log: .silent)) {
            let done = try await eventually { try await jobState(id) == .completed }
            XCTAssertTrue(done, "job \(id) (\(request.kind)) did not complete")
        }
    }
}
