import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The worker role can run the platform's jobs and nothing more.
final class LeastPrivilegeTests: XCTestCase {
    private func login(_ group: String, _ fixture: PlatformFixture) async throws -> PostgresConfiguration {
        let name = TestDatabase.uniqueName("role")
        _ = try await fixture.pool.query("CREATE ROLE \(name) LOGIN IN ROLE \(group)")
        return PostgresConfiguration(conninfo: try TestDatabase.url + "?user=\(name)", applicationName: "least-privilege")
    }

    private func assertDenied(_ sql: String, on connection: PostgresConnection, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try connection.execute(sql), sql, file: file, line: line) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "42501", "\(sql): \(error)", file: file, line: line)
        }
    }

    func testTheWorkerRoleRunsJobsButCannotChangeTheSchemaOrReadWhatItDoesNotUse() async throws {
        let fixture = try PlatformFixture()
        let worker = try await login("cleaning_worker", fixture)
        let connection = try PostgresConnection.connect(worker)
        assertDenied("ALTER TABLE queue.jobs ADD COLUMN sneaky integer", on: connection)
        assertDenied("DROP TABLE platform.orders", on: connection)
        assertDenied("CREATE TABLE public.sneaky (a integer)", on: connection)
        assertDenied("CREATE TABLE queue.sneaky (a integer)", on: connection)
        assertDenied("SELECT * FROM schema_migrations", on: connection)
        assertDenied("UPDATE platform.ledger_entries SET amount_fen = 1", on: connection)
        assertDenied("DELETE FROM platform.ledger_transactions", on: connection)
        assertDenied("UPDATE platform.commission_rates SET rate_bp = 0", on: connection)
        // Writes only the columns its handlers write.
        assertDenied("UPDATE platform.ledger_accounts SET code = 'platform:cash2'", on: connection)
        assertDenied("UPDATE platform.payout_items SET payable_fen = payable_fen + 1", on: connection)
        assertDenied("UPDATE platform.payout_runs SET period_start = now()", on: connection)
        assertDenied("UPDATE platform.orders SET paid_fen = 0", on: connection)
        assertDenied("UPDATE platform.withdrawals SET amount_fen = 1", on: connection)
        assertDenied("UPDATE platform.customers SET phone = '0'", on: connection)
        assertDenied("UPDATE queue.jobs SET kind = 'other'", on: connection)
        assertDenied("SELECT id FROM platform.ledger_accounts FOR UPDATE", on: connection)

        // …and still does its job: enqueue, claim, complete, platform handlers.
        let customer = try await fixture.customer()
        let pool = PostgresPool(configuration: worker, maxConnections: 4)
        let maintenance = try await JobQueueClient(database: pool).enqueue([
            try JobRequest(RecalculateTiers(), queue: PlatformJobs.maintenanceQueue),
            try JobRequest(ExpireCoupons(), queue: PlatformJobs.maintenanceQueue),
        ])
        _ = try await pool.withTransaction { connection in
            try NotificationOutbox.queue(
                template: "order_status", parameters: ["order": "1", "status": "已完成"], recipient: customer.phone,
                dedupeKey: UUID().uuidString, now: Date(), on: connection)
        }
        let services = PlatformServices(provider: RecordingProvider(), log: .silent)
        let engine = try JobWorker(
            database: worker, handlers: PlatformJobs.handlers(services),
            configuration: WorkerConfiguration(
                queues: PlatformJobs.queues, workerID: TestDatabase.uniqueName("least"), pollInterval: .milliseconds(100),
                leaderInterval: .milliseconds(200)),
            log: .silent)
        let done = try await engine.running {
            try await fixture.eventually {
                var finished = try await fixture.notifications(to: customer.phone).first?.1 == "sent"
                for job in maintenance where try await fixture.jobState(job.id)?.isFinal != true { finished = false }
                return finished
            }
        }
        XCTAssertTrue(done, "the worker role dispatched a notification and ran the maintenance jobs")
        for job in maintenance {
            let state = try await fixture.jobState(job.id)
            XCTAssertEqual(state, .completed, "no permission errors in the worker's jobs")
        }
    }

    func testTheReportingRoleOnlyReads() async throws {
        let fixture = try PlatformFixture()
        let reporting = try PostgresConnection.connect(try await login("cleaning_reporting", fixture))
        _ = try reporting.query("SELECT count(*) FROM platform.orders")
        _ = try reporting.query("SELECT count(*) FROM queue.jobs")
        assertDenied("INSERT INTO queue.queues (name) VALUES ('x')", on: reporting)
        assertDenied("UPDATE platform.customers SET points_balance = 0", on: reporting)
    }

    /// Every job kind the platform handles, run by a worker logged in as a member of
    /// cleaning_worker, each with something to do so its writes are exercised. A new
    /// kind fails this test until it is added here.
    func testEveryJobKindRunsUnderTheWorkerRole() async throws {
        let fixture = try PlatformFixture()
        let worker = try await login("cleaning_worker", fixture)
        let owner = try TestDatabase.connect()
        let client = JobQueueClient(database: fixture.pool)
        let admin = JobAdministration(database: fixture.pool)
        let now = Date()
        let watermark = try await admin.list(limit: 1).first?.id ?? 0

        // Orders and tiers: booking and assignment queue reminders (the cleaner's at once)
        // and notifications; a completed order queues a tier upgrade.
        let customer = try await fixture.customer()
        let cleaner = try await fixture.cleaner(level: "熟练")
        let order = try await fixture.order(customerID: customer.id, appointment: now.addingTimeInterval(86_400), now: now)
        try await fixture.pool.withTransaction { connection in
            try OrderBooking.assign(orderID: order, cleanerID: cleaner, now: now, on: connection)
        }
        try await fixture.completedOrder(customer: customer.id, cleaner: cleaner, paid: 200_000, at: now.addingTimeInterval(-60))
        try await client.enqueue(try JobRequest(RecalculateTiers(), queue: PlatformJobs.maintenanceQueue))

        // Coupons and points: one coupon past its end, one ending in 2½ days, points past their validity.
        let template = try await fixture.pool.query(
            "INSERT INTO platform.coupon_templates (name, discount_fen, valid_days) VALUES ('满100减10', 1000, 30) RETURNING id"
        ).scalar(Int64.self)
        for end in [now.addingTimeInterval(-60), now.addingTimeInterval(60 * 3600)] {
            _ = try await fixture.pool.query(
                """
                INSERT INTO platform.coupons (template_id, customer_id, valid_from, valid_until)
                VALUES ($1, $2, $3::timestamptz - interval '30 days', $3)
                """, [template, customer.id, end])
        }
        _ = try await fixture.pool.query(
            """
            WITH earned AS (
                INSERT INTO platform.points_ledger (customer_id, delta, reason, expires_at, created_at)
                VALUES ($1, 300, 'earned', $2::timestamptz - interval '1 day', $2::timestamptz - interval '400 days')
            )
            UPDATE platform.customers SET points_balance = points_balance + 300 WHERE id = $1
            """, [customer.id, now])
        try await client.enqueue([
            try JobRequest(ExpireCoupons(), queue: PlatformJobs.maintenanceQueue),
            try JobRequest(RemindExpiringCoupons(), queue: PlatformJobs.maintenanceQueue),
            try JobRequest(ExpirePoints(), queue: PlatformJobs.maintenanceQueue),
            try JobRequest(RecommendCleaners(), queue: PlatformJobs.maintenanceQueue),
        ])

        // Exams: a submission graded, then the exam regraded.
        // An exam is saved whole, in one transaction (it is checked at commit).
        let (exam, question) = try await fixture.pool.withTransaction { connection -> (Int64, Int64) in
            let exam = try connection.query(
                "INSERT INTO platform.exams (skill, title, pass_mark) VALUES ($1, '地板养护', 5) RETURNING id",
                ["floors-\(UUID().uuidString.prefix(8))"]
            ).scalar(Int64.self)
            let question = try connection.query(
                """
                INSERT INTO platform.exam_questions (exam_id, position, kind, points, answer_key)
                VALUES ($1, 1, 'true_false', 10, 'true') RETURNING id
                """, [exam]
            ).scalar(Int64.self)
            return (exam, question)
        }
        let submission = try await fixture.pool.query(
            "INSERT INTO platform.exam_submissions (exam_id, cleaner_id, answers) VALUES ($1, $2, $3::jsonb) RETURNING id",
            [exam, cleaner, #"{"\#(question)": true}"#]
        ).scalar(Int64.self)
        let grading = try await client.enqueue(try JobRequest(GradeExamSubmission(submissionID: submission))).id
        try await client.enqueue(try JobRequest(RegradeExam(examID: exam), dependsOn: [grading]))

        // Payouts: a run started by finance (payment jobs and the run's callback), a
        // payment job that settles its own line (queued by an older version), a withdrawal.
        let period = try PlatformFixture.uniquePayoutPeriod()
        try await fixture.completedOrder(customer: customer.id, cleaner: cleaner, paid: 10_000, at: period.start)
        let run = try PayoutRun.start(period, on: owner)
        let olderPeriod = try PlatformFixture.uniquePayoutPeriod()
        let olderCleaner = try await fixture.cleaner(level: "新手")
        try await fixture.completedOrder(customer: customer.id, cleaner: olderCleaner, paid: 8_000, at: olderPeriod.start)
        let olderRun = try await fixture.pool.query(
            "INSERT INTO platform.payout_runs (period, period_start, period_end) VALUES ($1, $2, $3) RETURNING id",
            [olderPeriod.name, olderPeriod.start, olderPeriod.end]
        ).scalar(Int64.self)
        try await client.enqueue(
            try JobRequest(SettleCleanerPayoutArguments(runID: olderRun, cleanerID: olderCleaner), queue: PayoutRun.queue))
        let withdrawer = try await fixture.cleaner(level: "金牌")
        try await fixture.creditWallet(of: withdrawer, fen: 5_000)
        let withdrawal = try await fixture.pool.query(
            "INSERT INTO platform.withdrawals (cleaner_id, amount_fen) VALUES ($1, 3000) RETURNING id", [withdrawer]
        ).scalar(Int64.self)
        try await client.enqueue(try JobRequest(ProcessWithdrawalArguments(withdrawalID: withdrawal), queue: PayoutRun.queue))

        // Dispatch: an order whose first round offered a cleaner two minutes ago (the
        // booking's own round job then finds it done); the offer's expiry runs the
        // next round, which finds nobody else and escalates.
        let place = DispatchPlace.random()
        _ = try await fixture.availableCleaner(near: place)
        let dispatched = try await fixture.book(customer: customer.id, at: place, appointment: DispatchPlace.tomorrow(hour: 10))
        let offer = try await fixture.pool.query(
            "SELECT (platform.dispatch_round($1, 1, 1, now() - interval '2 minutes')).offer_ids[1]", [dispatched]
        ).scalar(Int64.self)
        try await client.enqueue(try JobRequest(ExpireDispatchOffer(offerID: offer), queue: OrderDispatch.queue))

        // Statistics: the rollup takes the changes (the orders above among them) and rewrites their days.
        try await client.enqueue(try JobRequest(RollUpStatistics(), queue: PlatformJobs.maintenanceQueue))
        // Service quality: a week scored (a 1-star cleaner is suspended) and a lapsed
        // suspension ended. Complaints: one filed long ago, so every escalation is due.
        let qualityWeek = try PlatformFixture.uniquePayoutPeriod()
        let poor = try await fixture.cleaner(level: "新手")
        let poorOrder = try await fixture.completedOrder(
            customer: customer.id, cleaner: poor, paid: 5_000, at: qualityWeek.end.addingTimeInterval(-86_400))
        _ = try await fixture.pool.query(
            "INSERT INTO platform.reviews (order_id, rating, created_at) VALUES ($1, 1, $2)",
            [poorOrder, qualityWeek.end.addingTimeInterval(-3600)])
        let lapsed = try await fixture.cleaner(level: "新手")
        _ = try await fixture.pool.query(
            """
            WITH decided AS (
                INSERT INTO platform.quality_decisions (cleaner_id, period, score, outcome, bonus_fen, fine_fen, inputs, decided_at)
                VALUES ($1, 'lapsed', 10, 'suspension', 0, 0, '{}', $2::timestamptz - interval '20 days') RETURNING id
            ), suspended AS (UPDATE platform.cleaners SET status = 'suspended' WHERE id = $1)
            INSERT INTO platform.cleaner_suspensions (cleaner_id, decision_id, suspended_at, suspended_until)
            SELECT $1, id, $2::timestamptz - interval '20 days', $2::timestamptz - interval '6 days' FROM decided
            """, [lapsed, now])
        try await client.enqueue([
            try JobRequest(ScoreServiceQuality(period: qualityWeek.name), queue: PlatformJobs.maintenanceQueue),
            try JobRequest(ReinstateCleaners(), queue: PlatformJobs.maintenanceQueue),
        ])
        _ = try ComplaintDesk.file(
            orderID: poorOrder, reason: "迟到", severity: .urgent, now: now.addingTimeInterval(-10 * 86_400), on: owner)

        // Campaigns: the customer's order is in a city of its own; the campaign's one batch
        // grants them a coupon and queues their message.
        let shanghai = BusinessCalendar(timeZone: TimeZone(identifier: "Asia/Shanghai")!)
        let campaignCity = "权限城\(UUID().uuidString.prefix(8))"
        _ = try await fixture.pool.query("UPDATE platform.orders SET city = $2 WHERE id = $1", [order, campaignCity])
        let campaign = try CampaignDesk.create(
            CampaignDesk.NewCampaign(
                name: "权限检查", segment: CampaignSegment(cities: [campaignCity]), templateCode: "campaign_coupon",
                parameters: ["offer": "8折"], couponTemplateID: template, startsAt: now.addingTimeInterval(-60),
                endsAt: now.addingTimeInterval(3600)),
            now: now, timeZone: shanghai.timeZone, on: owner)
        _ = try CampaignDesk.launch(campaign, now: now, calendar: shanghai, on: owner)

        // The jobs this test queued, but the reminders still ahead of their time and
        // those the orders' progress cancelled before they ran.
        let ours = { () async throws -> [JobAdministration.JobSummary] in
            var jobs: [JobAdministration.JobSummary] = []
            for kind in PlatformJobs.kinds {
                jobs += try await admin.list(kind: kind, limit: 500)
                    .filter { $0.id > watermark && $0.state != .scheduled && $0.state != .cancelled }
            }
            return jobs
        }
        // The worker as `queue-worker` runs it: with the periodic jobs, leading the
        // maintenance services (the log tells whether one of them was refused).
        let capture = LogCapture()
        // Marketing may go out at any hour here, so the campaign's batch runs whenever the test does.
        let services = PlatformServices(
            provider: RecordingProvider(), payouts: RecordingPayouts(), flowControl: FlowControlPolicy(marketingHours: 0..<24),
            log: capture.log)
        let engine = try JobWorker(
            database: worker, handlers: PlatformJobs.handlers(services),
            periodicJobs: try PlatformJobs.periodicJobs(timeZone: TimeZone(identifier: "Asia/Shanghai")!),
            configuration: WorkerConfiguration(
                queues: PlatformJobs.queues, workerID: TestDatabase.uniqueName("least"), pollInterval: .milliseconds(100),
                leaderInterval: .milliseconds(100)),
            log: capture.log)
        _ = try await engine.running {
            try await fixture.eventually(timeout: .seconds(60)) { try await ours().allSatisfy(\.state.isFinal) }
        }
        XCTAssertFalse(capture.text.contains("42501"), "no statement of the worker was refused: \(capture.text)")

        let jobs = try await ours()
        for job in jobs where job.state != .completed {
            let error = try await admin.show(job.id)?.errors.last?.error ?? ""
            XCTFail("\(job.kind) ended \(job.state) under the worker role: \(error)")
        }
        XCTAssertEqual(
            Set(jobs.filter { $0.state == .completed }.map(\.kind)), Set(PlatformJobs.kinds),
            "every kind ran to completion under the worker role")

        // Each did its work (so each write right was used).
        let effects = try await fixture.pool.query(
            """
            SELECT (SELECT count(*) FROM platform.notifications WHERE recipient = $1 AND status = 'sent'),
                   (SELECT count(*) FROM platform.coupons WHERE customer_id = $2 AND (status = 'expired' OR reminded_at IS NOT NULL)),
                   (SELECT count(*) FROM platform.points_ledger WHERE customer_id = $2 AND reason = 'expired'),
                   (SELECT count(*) FROM platform.tier_changes WHERE customer_id = $2),
                   (SELECT count(*) FROM platform.exam_submissions WHERE id = $3 AND status = 'graded' AND passed),
                   (SELECT count(*) FROM platform.payout_items WHERE run_id IN ($4, $5) AND status = 'paid'),
                   (SELECT count(*) FROM platform.payout_runs WHERE id = $4 AND status = 'completed'),
                   (SELECT count(*) FROM platform.withdrawals WHERE id = $6 AND status = 'paid'),
                   (SELECT count(*) FROM platform.cleaner_statistics_daily
                    WHERE day = ($7::timestamptz AT TIME ZONE 'Asia/Shanghai')::date AND completed_orders > 0),
                   (SELECT count(*) FROM platform.campaign_recipients
                    WHERE campaign_id = $8 AND customer_id = $2 AND status = 'queued' AND coupon_id IS NOT NULL)
            """, [customer.phone, customer.id, submission, run.runID, olderRun, withdrawal, period.start, campaign]
        ).first!.decode((Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64).self)
        XCTAssertGreaterThan(effects.0, 0, "notifications sent")
        XCTAssertEqual(effects.1, 2, "one coupon expired, one reminded")
        XCTAssertEqual(effects.2, 1, "points expired")
        XCTAssertGreaterThan(effects.3, 0, "tier changed")
        XCTAssertEqual(effects.4, 1, "exam graded")
        XCTAssertEqual(effects.5, 2, "both payout lines paid")
        XCTAssertEqual(effects.6, 1, "payout run completed")
        XCTAssertEqual(effects.7, 1, "withdrawal paid")
        let dispatch = try await fixture.pool.query(
            "SELECT status, round FROM platform.order_dispatches WHERE order_id = $1", [dispatched]
        ).first!.decode((String, Int32).self)
        XCTAssertEqual(dispatch.0, "escalated", "the offer expired and the next round escalated")
        XCTAssertEqual(dispatch.1, 2)
        XCTAssertEqual(effects.8, 1, "the day of the payout week's order rolled up")
        XCTAssertEqual(effects.9, 1, "the campaign's recipient queued with a coupon")

        let quality = try await fixture.pool.query(
            """
            SELECT (SELECT status FROM platform.cleaners WHERE id = $1), (SELECT status FROM platform.cleaners WHERE id = $2),
                   (SELECT count(*) FROM platform.complaint_escalations AS e JOIN platform.complaints AS k ON k.id = e.complaint_id
                    WHERE k.order_id = $3)
            """, [poor, lapsed, poorOrder]
        ).first!.decode((String, String, Int64).self)
        XCTAssertEqual(quality.0, CleanerStatus.suspended, "scored and suspended")
        XCTAssertEqual(quality.1, CleanerStatus.active, "reinstated")
        XCTAssertEqual(quality.2, 4, "both deadlines escalated to both levels")
        let unbalanced = try await fixture.unbalancedLedgerTransactions()
        XCTAssertEqual(unbalanced, 0)
    }
}
