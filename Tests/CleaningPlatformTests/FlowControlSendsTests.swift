import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Flow control counts messages the gateway accepted, spreads the wake-up of the
/// messages it holds back, and states its times in business time.
final class FlowControlSendsTests: XCTestCase {
    @discardableResult
    private func queue(
        _ fixture: PlatformFixture, template: String, parameters: [String: String], to recipient: String
    ) async throws -> Int64 {
        let id = try await fixture.pool.withTransaction { connection in
            try NotificationOutbox.queue(
                template: template, parameters: parameters, recipient: recipient, dedupeKey: UUID().uuidString,
                now: Date(), on: connection)
        }
        return try XCTUnwrap(id)
    }

    private func permits(_ fixture: PlatformFixture, _ key: String) async throws -> Int64 {
        try await fixture.pool.query("SELECT count(*)::int8 FROM queue.rate_limit_permits WHERE key = $1", [key])
            .scalar(Int64.self)
    }

    func testAGatewayOutageDoesNotUseUpTheVerificationAllowance() async throws {
        let fixture = try PlatformFixture()
        let outage = PlatformFixture.phone()
        let refused = PlatformFixture.phone()
        try await queue(fixture, template: "verification_code", parameters: ["code": "123456"], to: outage)
        try await queue(fixture, template: "verification_code", parameters: ["code": "654321"], to: refused)
        let calls = Recorder()
        let provider = RecordingProvider { message in
            if message.recipient == refused { return .rejected(reason: "400 number not in service") }
            // The gateway is down for the first attempt, then back.
            if calls.next() == 0 { throw TransientDeliveryError("503 gateway down") }
            return .delivered(providerMessageID: "ok")
        }
        // With the first failed attempt counted, the 1/min rule would hold the retry
        // (due 5 s later) for a minute, past this test's bound.
        let sent = try await fixture.running(PlatformServices(provider: provider, log: .silent)) {
            try await fixture.eventually(timeout: .seconds(40)) {
                let outageState = try await fixture.notifications(to: outage).first?.1
                let refusedState = try await fixture.notifications(to: refused).first?.1
                return outageState == "sent" && refusedState == "failed"
            }
        }
        let outageNotes = try await fixture.notifications(to: outage)
        XCTAssertTrue(sent, "the code went out once the gateway was back: \(outageNotes)")
        XCTAssertEqual(provider.messages.filter { $0.recipient == outage }.count, 2, "one failed try, one send")
        let counted = try await permits(fixture, "notify:\(outage):verification")
        XCTAssertEqual(counted, 1, "only the accepted send counts against the allowance")
        let refusedCounted = try await permits(fixture, "notify:\(refused):verification")
        XCTAssertEqual(refusedCounted, 0, "a message the gateway refused does not count")
    }

    func testHeldBackMessagesWakeSpreadOutAndTheReasonShowsBusinessTime() async throws {
        let fixture = try PlatformFixture()
        let phone = PlatformFixture.phone()
        let losAngeles = TimeZone(identifier: "America/Los_Angeles")!
        var ids: [Int64] = []
        for index in 0..<8 {
            ids.append(try await queue(fixture, template: "order_status", parameters: ["order": "\(index)", "status": "x"], to: phone))
        }
        // One notice a minute for the first phone (the others wait), one a day for the second
        // (the other is past its validity then, and suppressed with the reason).
        let policy = FlowControlPolicy(noticePerTemplate: [RateLimit.Rule(limit: 1, per: .seconds(60))])
        let provider = RecordingProvider()
        let dailyPolicy = FlowControlPolicy(noticePerTemplate: [RateLimit.Rule(limit: 1, per: .seconds(86_400))])
        let started = Date()
        try await fixture.running(PlatformServices(provider: provider, flowControl: policy, log: .silent)) {
            _ = try await fixture.eventually {
                try await fixture.pool.query(
                    """
                    SELECT count(*)::int8 FROM queue.jobs WHERE kind = 'notification.dispatch'
                      AND (args->>'notificationID')::int8 = ANY($1) AND state = 'scheduled'
                    """, [ids]
                ).scalar(Int64.self) == 7
            }
        }
        let wakeTimes = try await fixture.pool.query(
            """
            SELECT run_at FROM queue.jobs WHERE kind = 'notification.dispatch'
              AND (args->>'notificationID')::int8 = ANY($1) AND state = 'scheduled'
            """, [ids]
        ).rows.map { try $0.decode(0, as: Date.self) }
        XCTAssertEqual(wakeTimes.count, 7)
        XCTAssertGreaterThan(Set(wakeTimes).count, 1, "held-back messages do not all wake at the same instant: \(wakeTimes)")
        for wake in wakeTimes {
            // The permit frees up 60 s after the first send; the spread adds at most a fifth of the wait.
            XCTAssertGreaterThanOrEqual(wake.timeIntervalSince(started), 30, "\(wake)")
            XCTAssertLessThanOrEqual(wake.timeIntervalSince(Date()), 60 + 13, "\(wake)")
        }

        let reasonPhone = PlatformFixture.phone()
        try await queue(fixture, template: "order_status", parameters: ["order": "a", "status": "x"], to: reasonPhone)
        try await queue(fixture, template: "order_status", parameters: ["order": "b", "status": "x"], to: reasonPhone)
        try await fixture.running(
            PlatformServices(provider: provider, flowControl: dailyPolicy, timeZone: losAngeles, log: .silent)
        ) {
            _ = try await fixture.eventually { try await fixture.notifications(to: reasonPhone).allSatisfy { $0.1 != "pending" } }
        }
        let reasonNotes = try await fixture.notifications(to: reasonPhone)
        let reason = try XCTUnwrap(reasonNotes.compactMap(\.2).first)
        XCTAssertTrue(reason.contains("America/Los_Angeles (UTC-0"), "the business zone is named: \(reason)")
    }

    func testZonedTimeTextShowsWallClockAndZone() throws {
        let instant = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18 11:06:40 UTC
        XCTAssertEqual(
            ZonedTimeText.format(instant, in: TimeZone(identifier: "Asia/Shanghai")!),
            "2026-11-18 19:06:40 Asia/Shanghai (UTC+08:00)")
        XCTAssertEqual(
            ZonedTimeText.format(instant, in: TimeZone(identifier: "America/Los_Angeles")!),
            "2026-11-18 03:06:40 America/Los_Angeles (UTC-08:00)")
        XCTAssertEqual(
            ZonedTimeText.format(instant, in: TimeZone(identifier: "Asia/Kolkata")!),
            "2026-11-18 16:36:40 Asia/Kolkata (UTC+05:30)")
    }

    func testWakeTimesAreSpreadWithinAFifthOfTheWaitAndNeverPastExpiry() {
        let policy = FlowControlPolicy()
        let now = Date()
        let freeAt = now.addingTimeInterval(50)
        let jobs = (Int64(1)...50)
        let wakes = jobs.map { policy.wakeTime(ofJob: $0, after: freeAt, now: now, latest: now.addingTimeInterval(3600)) }
        XCTAssertTrue(wakes.allSatisfy { $0 >= freeAt && $0 < freeAt.addingTimeInterval(10) }, "\(wakes)")
        XCTAssertGreaterThan(Set(wakes).count, 40, "spread, not one instant")
        // Job 7 wakes at its jitter's share of the spread (a fifth of the 50 s wait).
        let share = JobJitter(jobID: 7, moment: freeAt).share
        XCTAssertEqual(
            policy.wakeTime(ofJob: 7, after: freeAt, now: now, latest: now.addingTimeInterval(3600))
                .timeIntervalSince(freeAt), 10 * share, accuracy: 0.000_1, "job 7 at its share \(share)")
        let nearExpiry = jobs.map { policy.wakeTime(ofJob: $0, after: freeAt, now: now, latest: freeAt.addingTimeInterval(2)) }
        XCTAssertTrue(nearExpiry.allSatisfy { $0 >= freeAt && $0 < freeAt.addingTimeInterval(2) }, "\(nearExpiry)")
        let quietNight = now.addingTimeInterval(8 * 3600)
        let morning = jobs.map {
            policy.wakeTime(ofJob: $0, after: quietNight, now: now, latest: quietNight.addingTimeInterval(86_400))
        }
        XCTAssertTrue(morning.allSatisfy { $0 < quietNight.addingTimeInterval(300) }, "at most the configured spread")
    }
}
