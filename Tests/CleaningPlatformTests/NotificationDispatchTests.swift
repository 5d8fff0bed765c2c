import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import Synchronization
import XCTest

final class NotificationDispatchTests: XCTestCase {
    @discardableResult
    private func queue(
        _ fixture: PlatformFixture, template: String, parameters: [String: String], to recipient: String,
        key: String = UUID().uuidString, now: Date = Date()
    ) async throws -> Int64? {
        try await fixture.pool.withTransaction { connection in
            try NotificationOutbox.queue(
                template: template, parameters: parameters, recipient: recipient, dedupeKey: key, now: now,
                on: connection)
        }
    }

    private func drain(_ fixture: PlatformFixture, _ services: PlatformServices, concurrency: Int = 4) async throws {
        try await fixture.running(services, concurrency: concurrency) {
            _ = try await fixture.eventually {
                try await fixture.jobs(DispatchNotification.self).allSatisfy {
                    ![.available, .running, .retryable].contains($0.state)
                }
            }
        }
    }

    func testRenderingSendsAndAMissingParameterFailsWithTheReason() async throws {
        let fixture = try PlatformFixture()
        let phone = PlatformFixture.phone()
        try await queue(fixture, template: "order_status", parameters: ["order": "42", "status": "已接单"], to: phone)
        try await queue(fixture, template: "order_status", parameters: ["order": "43"], to: phone)
        let dedupe = try await queue(fixture, template: "order_status", parameters: ["order": "42", "status": "已接单"], to: phone, key: "same")
        let again = try await queue(fixture, template: "order_status", parameters: ["order": "42", "status": "已接单"], to: phone, key: "same")
        XCTAssertNotNil(dedupe)
        XCTAssertNil(again, "the same dedupe key queues nothing the second time")
        let provider = RecordingProvider()
        try await drain(fixture, PlatformServices(provider: provider, log: .silent))
        let notes = try await fixture.notifications(to: phone)
        XCTAssertEqual(notes.map(\.1).sorted(), ["failed", "sent", "sent"])
        let failure = try XCTUnwrap(notes.first { $0.1 == "failed" }?.2)
        XCTAssertTrue(failure.contains("needs parameter \"status\""), failure)
        XCTAssertEqual(provider.messages.first?.body, "您的订单42状态：已接单。")
        XCTAssertEqual(Set(provider.messages.map(\.idempotencyKey)).count, 2)
    }

    func testProviderRejectionAndOutageAndExpiry() async throws {
        let fixture = try PlatformFixture()
        let rejected = PlatformFixture.phone()
        let flaky = PlatformFixture.phone()
        let late = PlatformFixture.phone()
        try await queue(fixture, template: "order_status", parameters: ["order": "1", "status": "x"], to: rejected)
        try await queue(fixture, template: "order_status", parameters: ["order": "2", "status": "x"], to: flaky)
        try await queue(
            fixture, template: "order_status", parameters: ["order": "3", "status": "x"], to: late,
            now: Date().addingTimeInterval(-2 * 86_400))
        let attempts = Recorder()
        let provider = RecordingProvider { message in
            if message.recipient == rejected { return .rejected(reason: "400 invalid number") }
            if message.recipient == flaky && attempts.next() < 2 { throw TransientDeliveryError("503 gateway busy") }
            return .delivered(providerMessageID: "ok")
        }
        var services = PlatformServices(provider: provider, log: .silent)
        services.clock = .system
        try await fixture.running(services) {
            _ = try await fixture.eventually(timeout: .seconds(60)) {
                let flakyState = try await fixture.notifications(to: flaky).first?.1
                let rejectedState = try await fixture.notifications(to: rejected).first?.1
                return flakyState == "sent" && rejectedState == "failed"
            }
        }
        let rejectedNote = try await fixture.notifications(to: rejected)
        XCTAssertEqual(rejectedNote.first?.1, "failed")
        XCTAssertTrue(rejectedNote.first?.2?.contains("400 invalid number") ?? false)
        let flakyNote = try await fixture.notifications(to: flaky)
        XCTAssertEqual(flakyNote.first?.1, "sent", "a 5xx is retried until it goes through")
        XCTAssertEqual(provider.messages.filter { $0.recipient == flaky }.count, 3)
        XCTAssertEqual(Set(provider.messages.filter { $0.recipient == flaky }.map(\.idempotencyKey)).count, 1,
                       "the same idempotency key on every retry")
        let lateNote = try await fixture.notifications(to: late)
        XCTAssertEqual(lateNote.first?.1, "suppressed")
        XCTAssertTrue(lateNote.first?.2?.contains("validity") ?? false)
        XCTAssertFalse(provider.messages.contains { $0.recipient == late })
    }

    func testFlowControlHoldsUnderFourConcurrentWorkers() async throws {
        let fixture = try PlatformFixture()
        let phone = PlatformFixture.phone()
        for index in 0..<12 {
            try await queue(fixture, template: "order_status", parameters: ["order": "\(index)", "status": "x"], to: phone)
        }
        let provider = RecordingProvider()
        let policy = FlowControlPolicy(noticePerTemplate: [RateLimit.Rule(limit: 3, per: .seconds(86_400))])
        let services = PlatformServices(provider: provider, flowControl: policy, log: .silent)
        // Four workers, each with its own connections, racing for the same recipient.
        let workers = try (0..<4).map { _ in
            try JobWorker(
                database: fixture.configuration, handlers: PlatformJobs.handlers(services),
                configuration: WorkerConfiguration(
                    queues: [NotificationOutbox.dispatchQueue: 4], workerID: TestDatabase.uniqueName("fw"),
                    pollInterval: .milliseconds(50), runsLeaderServices: false),
                log: .silent)
        }
        try await JobWorker.running(workers) {
            _ = try await fixture.eventually {
                try await fixture.notifications(to: phone).allSatisfy { $0.1 != "pending" }
            }
        }
        let notes = try await fixture.notifications(to: phone)
        XCTAssertEqual(notes.filter { $0.1 == "sent" }.count, 3, "\(notes)")
        XCTAssertEqual(notes.filter { $0.1 == "suppressed" }.count, 9)
        XCTAssertEqual(provider.messages.count, 3, "the limit was never exceeded")
        XCTAssertTrue(notes.filter { $0.1 == "suppressed" }.allSatisfy { $0.2?.contains("flow control") ?? false })
    }

    func testQuietHoursAtTheirEdgesAndAcrossMidnight() throws {
        let policy = FlowControlPolicy()
        let shanghai = BusinessCalendar(timeZone: TimeZone(identifier: "Asia/Shanghai")!)
        func local(_ text: String) -> Date {
            let formatter = ISO8601DateFormatter()
            return formatter.date(from: text + "+08:00")!
        }
        XCTAssertNil(policy.quietUntil(local("2026-11-23T20:59:59"), calendar: shanghai))
        XCTAssertEqual(policy.quietUntil(local("2026-11-23T21:00:00"), calendar: shanghai), local("2026-11-24T08:00:00"))
        XCTAssertEqual(policy.quietUntil(local("2026-11-23T23:59:59"), calendar: shanghai), local("2026-11-24T08:00:00"))
        XCTAssertEqual(policy.quietUntil(local("2026-11-24T00:00:00"), calendar: shanghai), local("2026-11-24T08:00:00"))
        XCTAssertEqual(policy.quietUntil(local("2026-11-24T07:59:59"), calendar: shanghai), local("2026-11-24T08:00:00"))
        XCTAssertNil(policy.quietUntil(local("2026-11-24T08:00:00"), calendar: shanghai))
        // The recipient's zone decides: 21:30 in Shanghai is 08:30 in New York (winter).
        XCTAssertNil(policy.quietUntil(local("2026-11-23T21:30:00"), calendar: BusinessCalendar(timeZone: TimeZone(identifier: "America/New_York")!)))
    }

    func testTemplatesRenderAndRefuseHoles() throws {
        let template = NotificationTemplate(
            code: "t", channel: .sms, category: .notice, body: "您好{name}，订单{order}。", validityMinutes: 10)
        XCTAssertEqual(try template.render(["name": "王", "order": "7"]), "您好王，订单7。")
        XCTAssertThrowsError(try template.render(["name": "王"])) { error in
            XCTAssertEqual("\(error)", "template t needs parameter \"order\", which was not given")
        }
    }
}

/// Counts calls from concurrent handlers.
final class Recorder: Sendable {
    private let count = Mutex(0)
    func next() -> Int { count.withLock { value in defer { value += 1 }; return value } }
}
