@testable import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Marketing campaigns: segments compiled to parameterized conditions, launch in
/// batches through the outbox, the marketing rules (opt-out, frequency cap, quiet
/// hours, send window), pause and cancel mid-way, a batch run twice, coupon grants
/// and the report. Each test's customers have orders in a city of their own, and
/// its segments name that city, so other tests' customers are never targeted.
final class CampaignTests: XCTestCase {
    private static let calendar = BusinessCalendar(timeZone: TimeZone(identifier: "Asia/Shanghai")!)
    /// Monday 10:00 in Shanghai: inside marketing hours.
    private static let monday = ISO8601DateFormatter().date(from: "2026-12-07T10:00:00+08:00")!

    private var calendar: BusinessCalendar { Self.calendar }
    private var monday: Date { Self.monday }

    private func uniqueCity() -> String { "测试城\(UUID().uuidString.prefix(8))" }

    /// A customer with one order placed in `city` at `orderedAt`.
    private func customer(
        _ fixture: PlatformFixture, city: String, orderedAt: Date
    ) async throws -> (id: Int64, phone: String) {
        let customer = try await fixture.customer()
        _ = try await fixture.pool.query(
            """
            INSERT INTO platform.orders (customer_id, service_type_id, address, latitude, longitude, appointment_start,
                                         duration_minutes, amount_fen, paid_fen, city, created_at)
            VALUES ($1, 1, 'x', 31, 121, $2, 60, 10000, 10000, $3, $2)
            """, [customer.id, orderedAt, city])
        return customer
    }

    private func couponTemplate(_ fixture: PlatformFixture) async throws -> Int64 {
        try await fixture.pool.query(
            "INSERT INTO platform.coupon_templates (name, discount_fen, valid_days) VALUES ('深度保洁满300减50', 5000, 14) RETURNING id"
        ).scalar(Int64.self)
    }

    private func create(
        _ fixture: PlatformFixture, city: String, segment: CampaignSegment? = nil, coupon: Int64? = nil,
        starts: Date? = nil, ends: Date? = nil, batchSize: Int = 1000
    ) async throws -> Int64 {
        let campaign = CampaignDesk.NewCampaign(
            name: "老客回流", segment: segment ?? CampaignSegment(cities: [city]),
            templateCode: coupon == nil ? "campaign_offer" : "campaign_coupon", parameters: ["offer": "本周深度保洁8折"],
            couponTemplateID: coupon, startsAt: starts ?? monday.addingTimeInterval(-3600), endsAt: ends ?? monday.addingTimeInterval(86_400),
            batchSize: batchSize)
        return try await fixture.pool.withConnection {
            try CampaignDesk.create(campaign, now: Self.monday, timeZone: Self.calendar.timeZone, on: $0)
        }
    }

    private func launch(_ fixture: PlatformFixture, _ id: Int64, at now: Date? = nil) async throws -> CampaignDesk.Launch {
        try await fixture.pool.withConnection { try CampaignDesk.launch(id, now: now ?? Self.monday, calendar: Self.calendar, on: $0) }
    }

    private func campaignReport(_ fixture: PlatformFixture, _ id: Int64) async throws -> CampaignReport {
        try await fixture.pool.withConnection { try CampaignReport.of(id, on: $0) }
    }

    /// The campaign's batches: (id, status), in order.
    private func batches(_ fixture: PlatformFixture, _ id: Int64) async throws -> [(Int64, String)] {
        try await fixture.pool.query(
            "SELECT id, status FROM platform.campaign_batches WHERE campaign_id = $1 ORDER BY batch_no", [id]
        ).rows.map { try $0.decode((Int64, String).self) }
    }

    /// Runs the platform's handlers on `queues` with the clock at `now` until `condition` holds.
    private func work(
        _ fixture: PlatformFixture, queues: [String], at now: Date, provider: RecordingProvider = RecordingProvider(),
        until condition: () async throws -> Bool
    ) async throws {
        let services = PlatformServices(clock: .fixed(now), provider: provider, log: .silent)
        let worker = try JobWorker(
            database: fixture.configuration, handlers: PlatformJobs.handlers(services),
            configuration: WorkerConfiguration(
                queues: Dictionary(uniqueKeysWithValues: queues.map { ($0, 2) }), workerID: TestDatabase.uniqueName("cw"),
                pollInterval: .milliseconds(100), leaseDuration: .seconds(10), stageInterval: .milliseconds(100),
                leaderInterval: .milliseconds(100)),
            log: .silent)
        // A minute: on a Citus cluster at load each batch is a few distributed statements.
        let done = try await worker.running { try await fixture.eventually(timeout: .seconds(60), condition) }
        if !done {
            // The evidence: the queues' unfinished jobs with their last error.
            let unfinished = try await fixture.pool.query(
                """
                SELECT id, kind, state, attempt::int8, COALESCE(errors -> -1 ->> 'error', '') FROM queue.jobs
                WHERE queue = ANY ($1) AND state NOT IN ('completed', 'cancelled') ORDER BY id
                """, [queues]
            ).rows.map { try $0.decode((Int64, String, String, Int64, String).self) }
            XCTFail("the workers on \(queues) did not get there; unfinished jobs: \(unfinished)")
        }
    }

    private func allBatchesFinished(_ fixture: PlatformFixture, _ id: Int64) async throws -> Bool {
        try await batches(fixture, id).allSatisfy { $0.1 != "pending" }
    }

    /// Sends one batch by its own job (the launch's jobs having been cancelled).
    private func sendBatch(_ fixture: PlatformFixture, _ batch: Int64, at now: Date) async throws {
        let job = try await JobQueueClient(database: fixture.pool).enqueue(
            try JobRequest(SendCampaignBatch(batchID: batch), queue: CampaignDesk.batchQueue)).id
        try await work(fixture, queues: [CampaignDesk.batchQueue], at: now) { try await fixture.jobState(job) == .completed }
    }

    /// Cancels the send jobs a launch enqueued, so a test runs batches one by one.
    private func holdLaunchedJobs(_ fixture: PlatformFixture, _ id: Int64) async throws {
        _ = try await fixture.pool.withConnection {
            try $0.cancelWaitingJobs(tagged: CampaignDesk.tag(id), reason: "the test sends batches itself")
        }
    }

    // MARK: - Segments

    /// Every criterion becomes a condition whose values are parameters (none of them
    /// appears in the statement's text); unknown fields and wrong types are refused
    /// in Swift and, for rows written past it, by the database's check.
    func testSegmentCompilesToAParameterizedConditionAndRefusesUnknownFields() async throws {
        let segment = try CampaignSegment(
            json: #"{"tiers": ["黄金"], "cities": ["上海'; DROP TABLE x; --"], "last_order_older_than_days": 30, "has_unused_coupon": true}"#)
        XCTAssertEqual(segment, CampaignSegment(
            tiers: ["黄金"], cities: ["上海'; DROP TABLE x; --"], lastOrderOlderThanDays: 30, hasUnusedCoupon: true))
        let compiled = segment.compile(firstParameter: 3, now: monday, calendar: calendar)
        XCTAssertEqual(compiled.parameters.count, 4)
        for placeholder in ["$3", "$4", "$5", "$6"] { XCTAssertTrue(compiled.condition.contains(placeholder), placeholder) }
        XCTAssertFalse(compiled.condition.contains("黄金") || compiled.condition.contains("上海") || compiled.condition.contains("30"))
        XCTAssertEqual(CampaignSegment().compile(firstParameter: 1, now: monday, calendar: calendar).condition, "true")
        XCTAssertEqual(try CampaignSegment(json: segment.json), segment, "the stored form reads back the same")

        let refusals = [
            #"{"tier": ["黄金"]}"#: #"unknown segment field "tier""#,
            #"{"tiers": "黄金"}"#: "tiers is a non-empty list of names",
            #"{"cities": ["  "]}"#: "cities is a non-empty list of names",
            #"{"last_order_older_than_days": 2.5}"#: "last_order_older_than_days is a whole number",
            #"{"has_unused_coupon": 1}"#: "has_unused_coupon is true or false",
            "[]": "not a JSON object",
        ]
        for (json, message) in refusals {
            XCTAssertThrowsError(try CampaignSegment(json: json), json) { error in
                XCTAssertTrue("\(error)".contains(message), "\(json): \(error)")
            }
        }
        let fixture = try PlatformFixture()
        XCTAssertThrowsError(try TestDatabase.connect().query(
            """
            INSERT INTO platform.campaigns (name, segment, template_code, starts_at, ends_at, created_at)
            VALUES ('x', '{"tier": ["黄金"]}', 'campaign_offer', now(), now() + interval '1 day', now())
            """)) { error in
            XCTAssertTrue("\(error)".contains("campaigns_segment_valid"), "\(error)")
        }
        _ = fixture
    }

    /// The segment picks exactly the matching customers: lapsed (ordered, not in 30
    /// days) in the city, holding an unused coupon; not the recent one, not the one
    /// without a coupon, not the one elsewhere.
    func testLaunchTargetsExactlyTheSegmentInBatches() async throws {
        let fixture = try PlatformFixture()
        let city = uniqueCity()
        let old = monday.addingTimeInterval(-40 * 86_400)
        let lapsedWithCoupon = try await customer(fixture, city: city, orderedAt: old)
        let lapsedNoCoupon = try await customer(fixture, city: city, orderedAt: old)
        let recent = try await customer(fixture, city: city, orderedAt: monday.addingTimeInterval(-86_400))
        _ = try await customer(fixture, city: uniqueCity(), orderedAt: old)
        let coupon = try await couponTemplate(fixture)
        for holder in [lapsedWithCoupon.id, recent.id] {
            _ = try await fixture.pool.query(
                "INSERT INTO platform.coupons (template_id, customer_id, valid_from, valid_until) VALUES ($1, $2, $3, $4)",
                [coupon, holder, old, monday.addingTimeInterval(86_400)])
        }
        let segmented = try await create(
            fixture, city: city, segment: CampaignSegment(cities: [city], lastOrderOlderThanDays: 30, hasUnusedCoupon: true))
        let launched = try await launch(fixture, segmented)
        XCTAssertEqual(launched, CampaignDesk.Launch(targeted: 1, batches: 1, resumed: false))
        let targeted = try await fixture.pool.query(
            "SELECT customer_id FROM platform.campaign_recipients WHERE campaign_id = $1", [segmented]
        ).rows.map { try $0.decode(0, as: Int64.self) }
        XCTAssertEqual(targeted, [lapsedWithCoupon.id])

        let lapsed = try await create(
            fixture, city: city, segment: CampaignSegment(cities: [city], lastOrderOlderThanDays: 30), batchSize: 1)
        let relaunch = try await launch(fixture, lapsed)
        XCTAssertEqual(relaunch, CampaignDesk.Launch(targeted: 2, batches: 2, resumed: false))
        let batchIDs = try await batches(fixture, lapsed).map(\.0)
        let jobs = try await fixture.jobs(SendCampaignBatch.self).filter { batchIDs.contains($0.arguments.batchID) }
        XCTAssertEqual(jobs.count, 2, "one send job per batch")
        _ = lapsedNoCoupon
        XCTAssertThrowsError(try CampaignDesk.launch(lapsed, now: monday, calendar: calendar, on: TestDatabase.connect())) {
            XCTAssertTrue("\($0)".contains("already running"), "\($0)")
        }
    }

    // MARK: - Sending

    /// One run: the opted-out customer and the one over the frequency cap are
    /// suppressed with their reasons; the other gets one coupon and one message that
    /// names it, sent by the outbox; the report counts all of it and the order placed
    /// with the coupon within the attribution days.
    func testBatchesQueueMessagesAndCouponsUnderTheMarketingRules() async throws {
        let fixture = try PlatformFixture()
        let city = uniqueCity()
        let old = monday.addingTimeInterval(-40 * 86_400)
        let reached = try await customer(fixture, city: city, orderedAt: old)
        let optedOut = try await customer(fixture, city: city, orderedAt: old)
        let capped = try await customer(fixture, city: city, orderedAt: old)
        _ = try await fixture.pool.query("SELECT platform.set_marketing_opt_out($1, true)", [optedOut.id])
        // Two earlier campaigns reached the capped customer this week (the cap: 2 in 7 days).
        let cappedCity = uniqueCity()
        _ = try await fixture.pool.query(
            "UPDATE platform.orders SET city = $2 WHERE customer_id = $1", [capped.id, cappedCity])
        for _ in 0..<2 {
            let earlier = try await create(fixture, city: cappedCity, starts: monday.addingTimeInterval(-2 * 86_400))
            _ = try await launch(fixture, earlier, at: monday.addingTimeInterval(-86_400))
            try await work(fixture, queues: [CampaignDesk.batchQueue], at: monday.addingTimeInterval(-86_400)) {
                try await allBatchesFinished(fixture, earlier)
            }
        }
        _ = try await fixture.pool.query(
            "INSERT INTO platform.orders (customer_id, service_type_id, address, latitude, longitude, appointment_start, "
                + "duration_minutes, amount_fen, paid_fen, city, created_at) VALUES ($1, 1, 'x', 31, 121, $2, 60, 1, 1, $3, $2)",
            [capped.id, old, city])

        let coupon = try await couponTemplate(fixture)
        let id = try await create(fixture, city: city, coupon: coupon)
        let targeted = try await launch(fixture, id).targeted
        XCTAssertEqual(targeted, 3)
        let provider = RecordingProvider()
        try await work(fixture, queues: [CampaignDesk.batchQueue, NotificationOutbox.dispatchQueue], at: monday, provider: provider) {
            try await fixture.notifications(to: reached.phone).map(\.1) == ["sent"]
        }
        let message = try XCTUnwrap(provider.messages.first { $0.recipient == reached.phone })
        XCTAssertEqual(message.body, "【洁家】张三您好，送您一张深度保洁满300减50，本周深度保洁8折。回复TD退订。")
        XCTAssertTrue(provider.messages.allSatisfy { $0.recipient != optedOut.phone && $0.recipient != capped.phone })
        let coupons = try await fixture.pool.query(
            "SELECT customer_id, id FROM platform.coupons WHERE template_id = $1", [coupon]
        ).rows.map { try $0.decode((Int64, Int64).self) }
        XCTAssertEqual(coupons.map(\.0), [reached.id], "one coupon, for the customer reached")

        // The coupon redeemed on an order two days later (counted), another order after the attribution days (not).
        for (days, couponID) in [(2.0, Optional(coupons[0].1)), (9.0, nil)] {
            _ = try await fixture.pool.query(
                """
                INSERT INTO platform.orders (customer_id, service_type_id, address, latitude, longitude, appointment_start,
                    duration_minutes, amount_fen, discount_fen, paid_fen, coupon_id, created_at)
                VALUES ($1, 2, 'x', 31, 121, $2, 60, 39900, $3, 39900 - $3, $4, $2)
                """, [reached.id, monday.addingTimeInterval(days * 86_400), couponID == nil ? Int64(0) : Int64(5000), couponID])
        }
        let report = try await campaignReport(fixture, id)
        XCTAssertEqual(report.targeted, 3)
        XCTAssertEqual(report.queued, 1)
        XCTAssertEqual(report.suppressed, [.optedOut: 1, .frequencyCap: 1])
        XCTAssertEqual(report.sent, 1)
        XCTAssertEqual(report.waiting, 0)
        XCTAssertEqual(report.couponsGranted, 1)
        XCTAssertEqual(report.couponsRedeemed, 1)
        XCTAssertEqual(report.ordersPlaced, 1)
        XCTAssertEqual(report.orderingCustomers, 1)
        XCTAssertTrue(report.line.contains("targeted 3, sent 1, suppressed 2 (opted_out 1, frequency_cap 1)"), report.line)
    }

    /// Two campaigns' batches deciding the same customers at the same moment, each on
    /// its own connection: the second waits until the first commits, then counts the
    /// first's messages. Each customer had one campaign message this week, so the cap
    /// (2 in 7 days) allows one more: exactly one of the two campaigns reaches them,
    /// and the other's report counts them as suppressed for the frequency cap.
    func testTwoCampaignsDecidingTheSameCustomersAtOnceHoldTheFrequencyCap() async throws {
        let fixture = try PlatformFixture()
        let city = uniqueCity()
        let old = monday.addingTimeInterval(-40 * 86_400)
        let shared = [try await customer(fixture, city: city, orderedAt: old), try await customer(fixture, city: city, orderedAt: old)]
        let yesterday = monday.addingTimeInterval(-86_400)
        let earlier = try await create(fixture, city: city, starts: monday.addingTimeInterval(-2 * 86_400))
        _ = try await launch(fixture, earlier, at: yesterday)
        try await holdLaunchedJobs(fixture, earlier)
        let earlierBatch = try await batches(fixture, earlier)[0].0
        let earlierSent = try await fixture.pool.withTransaction {
            try SendCampaignBatch.decide(batch: earlierBatch, campaign: earlier, now: yesterday, suppression: nil, on: $0)
        }
        XCTAssertEqual(earlierSent.count, 2, "the earlier campaign reached both customers")

        var campaigns: [(id: Int64, batch: Int64)] = []
        for _ in 0..<2 {
            let id = try await create(fixture, city: city)
            _ = try await launch(fixture, id)
            try await holdLaunchedJobs(fixture, id)
            campaigns.append((id, try await batches(fixture, id)[0].0))
        }
        let (first, second) = (campaigns[0], campaigns[1])
        let now = monday
        let outcome = try await fixture.race(
            first: { _ = try SendCampaignBatch.decide(batch: first.batch, campaign: first.id, now: now, suppression: nil, on: $0) },
            second: { _ = try SendCampaignBatch.decide(batch: second.batch, campaign: second.id, now: now, suppression: nil, on: $0) })
        XCTAssertNil(outcome.first, "\(String(describing: outcome.first))")
        XCTAssertNil(outcome.second, "\(String(describing: outcome.second))")

        // Every decision about the two customers: (campaign, customer, status, suppression).
        let decisions = try await fixture.pool.query(
            """
            SELECT campaign_id, customer_id, status, suppression FROM platform.campaign_recipients
            WHERE customer_id = ANY($1) ORDER BY customer_id, campaign_id
            """, [shared.map(\.id)]
        ).rows.map { try $0.decode((Int64, Int64, String, String?).self) }
        for customer in shared {
            let queued = decisions.filter { $0.1 == customer.id && $0.2 == "queued" }
            XCTAssertEqual(queued.map(\.0), [earlier, first.id], "customer \(customer.id) got the cap, 2 messages: \(decisions)")
        }
        let firstReport = try await campaignReport(fixture, first.id)
        XCTAssertEqual(firstReport.queued, 2, firstReport.line)
        let secondReport = try await campaignReport(fixture, second.id)
        XCTAssertEqual(secondReport.queued, 0, secondReport.line)
        XCTAssertEqual(secondReport.suppressed, [.frequencyCap: 2], secondReport.line)
    }

    /// A batch whose job runs again (a retry, a second enqueue) queues, grants and
    /// sends nothing more: the batch is done and every message has its dedupe key.
    func testABatchRunTwiceSendsAndGrantsOnce() async throws {
        let fixture = try PlatformFixture()
        let city = uniqueCity()
        let reached = try await customer(fixture, city: city, orderedAt: monday.addingTimeInterval(-86_400))
        let coupon = try await couponTemplate(fixture)
        let id = try await create(fixture, city: city, coupon: coupon)
        _ = try await launch(fixture, id)
        try await holdLaunchedJobs(fixture, id)
        let batch = try await batches(fixture, id)[0].0
        try await sendBatch(fixture, batch, at: monday)
        try await sendBatch(fixture, batch, at: monday.addingTimeInterval(60))
        let messages = try await fixture.notifications(to: reached.phone).count
        XCTAssertEqual(messages, 1)
        let coupons = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM platform.coupons WHERE template_id = $1", [coupon]).scalar(Int64.self)
        XCTAssertEqual(coupons, 1)
        let notification = try await fixture.pool.query(
            "SELECT id FROM platform.notifications WHERE recipient = $1", [reached.phone]).scalar(Int64.self)
        let dispatchJobs = try await fixture.jobs(DispatchNotificationBatch.self).filter {
            $0.arguments.notificationIDs.contains(notification)
        }
        XCTAssertEqual(dispatchJobs.count, 1)
    }

    /// Pause after the first of three batches: a batch job that runs while paused
    /// leaves its batch for later; launching again resumes it. Cancel after the
    /// second: its queued but unsent messages are withdrawn from the outbox, the third
    /// batch's recipients are suppressed as cancelled, and the first batch's sent
    /// messages stay sent.
    func testPauseAndCancelMidWay() async throws {
        let fixture = try PlatformFixture()
        let city = uniqueCity()
        var recipients: [(id: Int64, phone: String)] = []
        for _ in 0..<3 { recipients.append(try await customer(fixture, city: city, orderedAt: monday.addingTimeInterval(-86_400))) }
        let id = try await create(fixture, city: city, batchSize: 1)
        _ = try await launch(fixture, id)
        try await holdLaunchedJobs(fixture, id)
        let batchIDs = try await batches(fixture, id).map(\.0)

        // Batch 1 sent all the way.
        try await sendBatch(fixture, batchIDs[0], at: monday)
        try await work(fixture, queues: [NotificationOutbox.dispatchQueue], at: monday) {
            try await campaignReport(fixture, id).sent == 1
        }
        try await fixture.pool.withConnection { try CampaignDesk.pause(id, on: $0) }
        try await sendBatch(fixture, batchIDs[1], at: monday)
        let pausedBatches = try await batches(fixture, id).map(\.1)
        XCTAssertEqual(pausedBatches, ["done", "pending", "pending"], "paused: batch 2 left waiting")
        let waitingWhilePaused = try await campaignReport(fixture, id).waiting
        XCTAssertEqual(waitingWhilePaused, 2)

        // Resumed: its jobs are enqueued again; batch 2 is queued (not dispatched yet).
        let resumed = try await launch(fixture, id, at: monday.addingTimeInterval(600))
        XCTAssertEqual(resumed, CampaignDesk.Launch(targeted: 0, batches: 2, resumed: true))
        try await holdLaunchedJobs(fixture, id)
        try await sendBatch(fixture, batchIDs[1], at: monday.addingTimeInterval(600))

        let cancelled = try await fixture.pool.withConnection { try CampaignDesk.cancel(id, now: Self.monday.addingTimeInterval(900), on: $0) }
        XCTAssertEqual(cancelled.recipients, 1, "batch 3's recipient")
        XCTAssertEqual(cancelled.messages, 1, "batch 2's queued message withdrawn")
        let provider = RecordingProvider()
        try await work(fixture, queues: [NotificationOutbox.dispatchQueue, CampaignDesk.batchQueue], at: monday.addingTimeInterval(900), provider: provider) {
            try await fixture.unfinishedJobs() == 0
        }
        let firstMessages = try await fixture.notifications(to: recipients[0].phone).map(\.1)
        XCTAssertEqual(firstMessages, ["sent"])
        let secondMessages = try await fixture.notifications(to: recipients[1].phone).map(\.1)
        XCTAssertEqual(secondMessages, ["suppressed"])
        let thirdMessages = try await fixture.notifications(to: recipients[2].phone).count
        XCTAssertEqual(thirdMessages, 0)
        XCTAssertTrue(provider.messages.allSatisfy { $0.recipient != recipients[1].phone })
        let report = try await campaignReport(fixture, id)
        XCTAssertEqual(report.status, .cancelled)
        XCTAssertEqual(report.sent, 1)
        XCTAssertEqual(report.suppressed, [.cancelled: 1])
        XCTAssertEqual(report.notSent, ["campaign cancelled": 1])
        let finalBatches = try await batches(fixture, id).map(\.1)
        XCTAssertEqual(finalBatches, ["done", "done", "cancelled"])
        XCTAssertThrowsError(try CampaignDesk.launch(id, now: monday, calendar: calendar, on: TestDatabase.connect()))
    }

    /// A batch at 22:00 Shanghai waits for 08:00 when the window is still open then;
    /// when the window closes first, its recipients are suppressed for quiet hours;
    /// a batch that runs after the window closed suppresses them as window_closed.
    func testQuietHoursAndTheSendWindow() async throws {
        let fixture = try PlatformFixture()
        let evening = monday.addingTimeInterval(12 * 3600)  // 22:00
        let city = uniqueCity()
        _ = try await customer(fixture, city: city, orderedAt: monday.addingTimeInterval(-86_400))

        let waits = try await create(fixture, city: city)  // window until Tuesday 10:00
        _ = try await launch(fixture, waits)
        try await holdLaunchedJobs(fixture, waits)
        let job = try await JobQueueClient(database: fixture.pool).enqueue(
            try JobRequest(SendCampaignBatch(batchID: try await batches(fixture, waits)[0].0), queue: CampaignDesk.batchQueue)).id
        // The job snoozes for the wait from its clock's 22:00 to 08:00 (plus a spread), counted from real time.
        let started = Date()
        try await work(fixture, queues: [CampaignDesk.batchQueue], at: evening) {
            try await fixture.jobState(job) == .scheduled
        }
        let wakes = try await fixture.pool.query("SELECT run_at FROM queue.jobs WHERE id = $1", [job]).scalar(Date.self)
        let wait = ISO8601DateFormatter().date(from: "2026-12-08T08:00:00+08:00")!.timeIntervalSince(evening)
        XCTAssertGreaterThanOrEqual(wakes, started.addingTimeInterval(wait))
        XCTAssertLessThan(wakes, Date().addingTimeInterval(wait + 600))
        let waitingAtNight = try await campaignReport(fixture, waits).waiting
        XCTAssertEqual(waitingAtNight, 1)
        _ = try await JobAdministration(database: fixture.pool).cancel(job)

        let quiet = try await create(fixture, city: city, ends: monday.addingTimeInterval(13 * 3600))  // until 23:00
        _ = try await launch(fixture, quiet)
        try await holdLaunchedJobs(fixture, quiet)
        try await sendBatch(fixture, try await batches(fixture, quiet)[0].0, at: evening)
        let lateWindow = try await campaignReport(fixture, quiet).suppressed
        XCTAssertEqual(lateWindow, [.quietHours: 1])

        let closed = try await create(fixture, city: city, ends: monday.addingTimeInterval(3600))
        _ = try await launch(fixture, closed)
        try await holdLaunchedJobs(fixture, closed)
        try await sendBatch(fixture, try await batches(fixture, closed)[0].0, at: monday.addingTimeInterval(7200))
        let closedWindow = try await campaignReport(fixture, closed).suppressed
        XCTAssertEqual(closedWindow, [.windowClosed: 1])
    }

    /// The app's opt-out: set and cleared through the SQL API under the app's role.
    func testTheAppSetsAndClearsTheOptOut() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let app = try TestDatabase.connect()
        try app.withTransaction { connection in
            try connection.executeScript("SET LOCAL ROLE cleaning_app")
            _ = try connection.query("SELECT platform.set_marketing_opt_out($1, true)", [customer.id])
        }
        let optedOut = { () async throws -> Bool in try await fixture.pool.query(
            "SELECT marketing_opted_out_at IS NOT NULL FROM platform.customers WHERE id = $1", [customer.id]).scalar(Bool.self) }
        let afterOptOut = try await optedOut()
        XCTAssertTrue(afterOptOut)
        try app.withTransaction { connection in
            try connection.executeScript("SET LOCAL ROLE cleaning_app")
            _ = try connection.query("SELECT platform.set_marketing_opt_out($1, false)", [customer.id])
        }
        let afterOptIn = try await optedOut()
        XCTAssertFalse(afterOptIn)
        XCTAssertThrowsError(try app.query("SELECT platform.set_marketing_opt_out(-1, true)")) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
    }

    /// Bad input is refused before anything is written: a template missing a
    /// parameter, a non-marketing template, a window already over, an unknown tier.
    func testCreateRefusesBadInputBeforeWritingAnything() async throws {
        let fixture = try PlatformFixture()
        let before = try await fixture.pool.query("SELECT count(*)::int8 FROM platform.campaigns").scalar(Int64.self)
        let base = CampaignDesk.NewCampaign(
            name: "x", segment: CampaignSegment(cities: [uniqueCity()]), templateCode: "campaign_offer",
            parameters: ["offer": "8折"], startsAt: monday, endsAt: monday.addingTimeInterval(3600))
        var missing = base
        missing.parameters = [:]
        var notMarketing = base
        notMarketing.templateCode = "order_status"
        var past = base
        past.endsAt = monday.addingTimeInterval(-60)
        past.startsAt = monday.addingTimeInterval(-3600)
        var tier = base
        tier.segment.tiers = ["青铜"]
        let cases: [(CampaignDesk.NewCampaign, String)] = [
            (missing, #"needs parameter "offer""#), (notMarketing, "is a notice template"), (past, "which is past"),
            (tier, #"tier "青铜" does not exist"#),
        ]
        for (campaign, message) in cases {
            XCTAssertThrowsError(
                try CampaignDesk.create(campaign, now: monday, timeZone: calendar.timeZone, on: TestDatabase.connect())
            ) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        let after = try await fixture.pool.query("SELECT count(*)::int8 FROM platform.campaigns").scalar(Int64.self)
        XCTAssertEqual(after, before)
    }
}
