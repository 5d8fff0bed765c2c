import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The bulk path of notifications: the batch `NotificationOutbox.queue` and the
/// batch dispatch job, which must keep every rule of the one-message path.
final class NotificationBatchTests: XCTestCase {
    private func message(
        _ recipient: String, template: String = "order_status", parameters: [String: String] = ["order": "1", "status": "已接单"],
        key: String = UUID().uuidString
    ) -> NotificationOutbox.Message {
        NotificationOutbox.Message(template: template, parameters: parameters, recipient: recipient, dedupeKey: key)
    }

    private func queue(
        _ fixture: PlatformFixture, _ messages: [NotificationOutbox.Message], now: Date = Date()
    ) async throws -> [Int64?] {
        try await fixture.pool.withTransaction { try NotificationOutbox.queue(messages, now: now, on: $0) }
    }

    private func statuses(_ fixture: PlatformFixture, _ ids: [Int64]) async throws -> [Int64: String] {
        var statuses: [Int64: String] = [:]
        for row in try await fixture.pool.query(
            "SELECT id, status FROM platform.notifications WHERE id = ANY($1)", [ids]
        ).rows {
            let (id, status) = try row.decode((Int64, String).self)
            statuses[id] = status
        }
        return statuses
    }

    /// Sends `ids` (other tests' workers share the notifications queue: nothing is left queued).
    private func drain(_ fixture: PlatformFixture, _ ids: [Int64]) async throws {
        try await fixture.running(PlatformServices(provider: RecordingProvider(), log: .silent)) {
            let done = try await fixture.eventually(timeout: .seconds(60)) {
                try await self.statuses(fixture, ids).values.allSatisfy { $0 != "pending" }
            }
            XCTAssertTrue(done, "every message queued was dispatched")
        }
    }

    func testTheBatchQueuesEachDedupeKeyOnceAndNothingWhenATemplateIsUnknown() async throws {
        let fixture = try PlatformFixture()
        let phone = PlatformFixture.phone()
        let used = UUID().uuidString
        let first = try await queue(fixture, [message(phone, key: used)])
        XCTAssertNotNil(first.first ?? nil)
        let twice = UUID().uuidString
        let ids = try await queue(fixture, [
            message(phone, key: twice), message(phone, key: used), message(phone, key: twice),
            message(phone, parameters: ["order": "2", "status": "已完成"]),
        ])
        XCTAssertEqual(ids.count, 4, "one answer per message, in order")
        XCTAssertNotNil(ids[0])
        XCTAssertNil(ids[1], "a key used by an earlier batch queues nothing")
        XCTAssertNil(ids[2], "a key given twice in one batch queues one message")
        XCTAssertNotNil(ids[3])
        let jobs = try await fixture.jobs(DispatchNotificationBatch.self)
            .filter { !Set($0.arguments.notificationIDs).isDisjoint(with: ids.compactMap { $0 }) }
        XCTAssertEqual(jobs.map { $0.arguments.notificationIDs.sorted() }, [ids.compactMap { $0 }.sorted()],
                       "one batch job for the new messages, in the same transaction")

        let stranger = PlatformFixture.phone()
        let unknownKey = UUID().uuidString
        do {
            _ = try await queue(fixture, [message(stranger, key: unknownKey), message(stranger, template: "no_such_template")])
            XCTFail("an unknown template is refused")
        } catch let error as NotificationOutbox.UnknownTemplate {
            XCTAssertEqual(error.codes, ["no_such_template"])
            XCTAssertTrue("\(error)".contains("nothing of the batch was queued"), "\(error)")
        }
        let written = try await fixture.notifications(to: stranger)
        XCTAssertTrue(written.isEmpty, "nothing of a batch with an unknown template is written: \(written)")
        try await drain(fixture, (first + ids).compactMap { $0 })
    }

    func testBatchJobsAreSplitAtTheBatchSizeAndRefuseBadArguments() async throws {
        let fixture = try PlatformFixture()
        let size = NotificationOutbox.dispatchBatchSize
        let messages = (0..<(size + 1)).map { _ in message(PlatformFixture.phone()) }
        let ids = try await queue(fixture, messages).compactMap { $0 }
        XCTAssertEqual(ids.count, size + 1)
        let jobs = try await fixture.jobs(DispatchNotificationBatch.self)
            .filter { !Set($0.arguments.notificationIDs).isDisjoint(with: ids) }
        XCTAssertEqual(jobs.map(\.arguments.notificationIDs.count).sorted(), [1, size])
        try await drain(fixture, ids)

        for bad in [[], [0], Array(repeating: Int64(1), count: DispatchNotificationBatch.maximumSize + 1)] {
            XCTAssertThrowsError(try JobRequest(DispatchNotificationBatch(notificationIDs: bad)), "\(bad.count) ids") {
                XCTAssertTrue("\($0)".contains("invalid job: \(DispatchNotificationBatch.kind): notificationIDs"), "\($0)")
            }
        }
    }

    func testABatchRendersSendsAndClosesEachMessageAsTheOneMessagePathWould() async throws {
        let fixture = try PlatformFixture()
        let good = PlatformFixture.phone()
        let hole = PlatformFixture.phone()
        let rejected = PlatformFixture.phone()
        let flaky = PlatformFixture.phone()
        let late = PlatformFixture.phone()
        let ids = try await queue(fixture, [
            message(good), message(hole, parameters: ["order": "1"]), message(rejected), message(flaky),
        ]).compactMap { $0 }
        let lateIDs = try await queue(fixture, [message(late)], now: Date().addingTimeInterval(-2 * 86_400)).compactMap { $0 }
        XCTAssertEqual(ids.count + lateIDs.count, 5)

        let flakyCalls = Recorder()
        let provider = RecordingProvider { message in
            if message.recipient == rejected { return .rejected(reason: "400 invalid number") }
            if message.recipient == flaky && flakyCalls.next() < 1 { throw TransientDeliveryError("503 gateway busy") }
            return .delivered(providerMessageID: "p-\(message.notificationID)")
        }
        try await fixture.running(PlatformServices(provider: provider, log: .silent)) {
            _ = try await fixture.eventually(timeout: .seconds(60)) {
                try await self.statuses(fixture, ids + lateIDs).values.allSatisfy { $0 != "pending" }
            }
        }
        let goodNote = try await fixture.notifications(to: good)
        XCTAssertEqual(goodNote.map(\.1), ["sent"])
        let holeNote = try await fixture.notifications(to: hole)
        XCTAssertEqual(holeNote.map(\.1), ["failed"])
        XCTAssertTrue(holeNote.first?.2?.contains("needs parameter \"status\"") ?? false, "\(holeNote)")
        let rejectedNote = try await fixture.notifications(to: rejected)
        XCTAssertEqual(rejectedNote.map(\.1), ["failed"])
        XCTAssertTrue(rejectedNote.first?.2?.contains("400 invalid number") ?? false, "\(rejectedNote)")
        let rejectedPermits = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM queue.rate_limit_permits WHERE key = $1", ["notify:\(rejected):order_status"]
        ).scalar(Int64.self)
        XCTAssertEqual(rejectedPermits, 0, "a refused message gives its permit back")
        let flakyNote = try await fixture.notifications(to: flaky)
        XCTAssertEqual(flakyNote.map(\.1), ["sent"], "a 5xx is retried in its own job")
        let flakyKeys = provider.messages.filter { $0.recipient == flaky }.map(\.idempotencyKey)
        XCTAssertEqual(flakyKeys.count, 2)
        XCTAssertEqual(Set(flakyKeys).count, 1, "the same idempotency key on the retry")
        let lateNote = try await fixture.notifications(to: late)
        XCTAssertEqual(lateNote.map(\.1), ["suppressed"])
        XCTAssertTrue(lateNote.first?.2?.contains("validity") ?? false)
        XCTAssertFalse(provider.messages.contains { [late, hole].contains($0.recipient) })
        XCTAssertEqual(provider.messages.filter { $0.recipient == good }.count, 1)
    }

    func testFlowControlHoldsAcrossBatchesRacingOnFourWorkers() async throws {
        let fixture = try PlatformFixture()
        let phone = PlatformFixture.phone()
        // Three batches of four messages to one recipient, plus others in each batch.
        var others: [String] = []
        for index in 0..<3 {
            let other = PlatformFixture.phone()
            others.append(other)
            _ = try await queue(
                fixture,
                (0..<4).map { message(phone, parameters: ["order": "\(index)-\($0)", "status": "x"]) } + [message(other)])
        }
        let provider = RecordingProvider()
        let policy = FlowControlPolicy(noticePerTemplate: [RateLimit.Rule(limit: 3, per: .seconds(86_400))])
        let services = PlatformServices(provider: provider, flowControl: policy, log: .silent)
        let workers = try (0..<4).map { _ in
            try JobWorker(
                database: fixture.configuration, handlers: PlatformJobs.handlers(services),
                configuration: WorkerConfiguration(
                    queues: [NotificationOutbox.dispatchQueue: 4], workerID: TestDatabase.uniqueName("fb"),
                    pollInterval: .milliseconds(50), runsLeaderServices: false),
                log: .silent)
        }
        try await JobWorker.running(workers) {
            _ = try await fixture.eventually(timeout: .seconds(60)) {
                try await fixture.notifications(to: phone).allSatisfy { $0.1 != "pending" }
            }
        }
        let notes = try await fixture.notifications(to: phone)
        XCTAssertEqual(notes.filter { $0.1 == "sent" }.count, 3, "\(notes)")
        XCTAssertEqual(notes.filter { $0.1 == "suppressed" }.count, 9)
        XCTAssertTrue(notes.filter { $0.1 == "suppressed" }.allSatisfy { $0.2?.contains("flow control") ?? false })
        XCTAssertEqual(provider.messages.filter { $0.recipient == phone }.count, 3, "the limit was never exceeded")
        for other in others {
            let otherNote = try await fixture.notifications(to: other)
            XCTAssertEqual(otherNote.map(\.1), ["sent"], "others in the batch go out")
        }
    }

    func testABatchThatQuietHoursHoldBackWholeWaitsAsOneJob() async throws {
        let fixture = try PlatformFixture()
        let night = ISO8601DateFormatter().date(from: "2026-11-23T23:00:00+08:00")!
        let phones = (0..<3).map { _ in PlatformFixture.phone() }
        let ids = try await queue(
            fixture,
            phones.map {
                message($0, template: "coupon_expiring", parameters: ["count": "1", "date": "11月26日", "coupons": "满100减10"])
            },
            now: night
        ).compactMap { $0 }
        XCTAssertEqual(ids.count, 3)
        let provider = RecordingProvider()
        var services = PlatformServices(provider: provider, log: .silent)
        services.clock = .fixed(night)
        let batch = { () async throws -> JobAdministration.KindJob<DispatchNotificationBatch>? in
            try await fixture.jobs(DispatchNotificationBatch.self).first { Set($0.arguments.notificationIDs) == Set(ids) }
        }
        try await fixture.running(services) {
            _ = try await fixture.eventually { try await batch()?.state == .scheduled }
        }
        let found = try await batch()
        let snoozed = try XCTUnwrap(found)
        XCTAssertEqual(snoozed.state, .scheduled, "the batch waits for the morning")
        // 08:00 in Shanghai is 9 h after the fixed clock's 23:00, counted from the real clock.
        XCTAssertGreaterThan(snoozed.runAt.timeIntervalSinceNow, 9 * 3600 - 120)
        XCTAssertLessThan(snoozed.runAt.timeIntervalSinceNow, 9 * 3600 + 300 + 60, "at most the wake spread later")
        let waiting = try await statuses(fixture, ids)
        XCTAssertEqual(Array(waiting.values), ["pending", "pending", "pending"])
        XCTAssertTrue(provider.messages.isEmpty, "nothing sent in quiet hours")
        let ownJobs = try await fixture.jobs(DispatchNotification.self).filter { ids.contains($0.arguments.notificationID) }
        XCTAssertTrue(ownJobs.isEmpty, "no job per message")
        _ = try await JobAdministration(database: fixture.pool).cancel(snoozed.id)
    }

    func testSetBasedPermitsCountEachOtherAndWhatIsAlreadyTaken() async throws {
        let fixture = try PlatformFixture()
        let key = "test:\(UUID().uuidString)"
        let other = "test:\(UUID().uuidString)"
        let rules = [RateLimit.Rule(limit: 2, per: .seconds(60)), RateLimit.Rule(limit: 3, per: .seconds(3600))]
        let limit = RateLimit(key: key, rules: rules)
        let otherLimit = RateLimit(key: other, limit: 1, per: .seconds(60))
        let first = try await fixture.pool.withConnection { try RateLimit.take([limit, otherLimit, limit, limit], on: $0) }
        XCTAssertEqual(first, [true, true, true, false], "two per minute for the key, one for the other")
        let later = try await fixture.pool.withConnection { connection in
            try connection.execute(
                "UPDATE queue.rate_limit_permits SET taken_at = taken_at - interval '2 minutes' WHERE key = $1", [key])
            return try RateLimit.take([limit, limit], on: connection)
        }
        XCTAssertEqual(later, [true, false], "a minute on, the hourly rule (3) holds the second one back")
        let freeAt = try await fixture.pool.withConnection { try limit.take(on: $0) }
        XCTAssertNotNil(freeAt, "the one-permit take agrees")
        do {
            _ = try await fixture.pool.withConnection { connection in
                try RateLimit.take([limit, RateLimit(key: key, limit: 9, per: .seconds(60))], on: connection)
            }
            XCTFail("one key with two sets of rules is refused")
        } catch {
            XCTAssertTrue("\(error)".contains("two different sets of rules"), "\(error)")
        }
    }

    /// A worker process killed (SIGKILL) in the middle of a batch, after the gateway
    /// accepted some of its messages and while it waits on the others: the rescued
    /// batch gives the gateway the same idempotency keys, so a gateway that honours
    /// them delivers every message once, and none is lost.
    func testAWorkerKilledMidBatchLosesNothingAndNothingIsDeliveredTwice() async throws {
        let fixture = try PlatformFixture()
        let phones = (0..<10).map { _ in PlatformFixture.phone() }
        let ids = try await queue(fixture, phones.map { message($0) }).compactMap { $0 }
        XCTAssertEqual(ids.count, 10)
        let ourKeys = Set(ids.map { "notification-\($0)" })
        // Messages other tests left queued may come through the same workers: they are answered at once.
        let gateway = DedupingGateway(answerFirst: 4, of: ourKeys)
        let server = try makeServer { gateway.answer($0) }
        let ours = { server.requests.filter { ourKeys.contains($0.header("Idempotency-Key") ?? "") } }
        let logs = NSTemporaryDirectory() + TestDatabase.uniqueName("killed-batch")
        func worker(_ name: String) throws -> ChildProcess {
            try ChildProcess(
                executable: try TestDatabase.executable("queue-worker"),
                arguments: [
                    "--queues", "\(NotificationOutbox.dispatchQueue)=1", "--lease", "3", "--poll-interval", "0.2",
                    "--worker-id", name,
                ],
                environment: [
                    "DATABASE_URL": try TestDatabase.url, "NOTIFY_PROVIDER": "http",
                    "NOTIFY_HTTP_URL": server.baseURL.absoluteString,
                ],
                outputPath: "\(logs)-\(name).log")
        }
        let killed = try worker(TestDatabase.uniqueName("killed"))
        let midBatch = try await fixture.eventually(timeout: .seconds(60)) { ours().count == ids.count }
        XCTAssertTrue(midBatch, "the whole batch reached the gateway, \(gateway.delivered) of it answered")
        XCTAssertEqual(gateway.delivered, 4)
        killed.signal(SIGKILL)
        _ = await killed.wait(timeout: .seconds(30))
        gateway.answerEverything()

        let rescuer = try worker(TestDatabase.uniqueName("rescuer"))
        let allSent = try await fixture.eventually(timeout: .seconds(90)) {
            try await self.statuses(fixture, ids).values.allSatisfy { $0 == "sent" }
        }
        rescuer.signal(SIGTERM)
        let rescuerStatus = await rescuer.wait(timeout: .seconds(60))
        XCTAssertTrue(allSent, "every message of the killed batch was sent")
        XCTAssertEqual(rescuerStatus, 0)

        let requests = ours()
        XCTAssertEqual(Set(requests.compactMap { $0.header("Idempotency-Key") }), ourKeys, "one key per message")
        XCTAssertEqual(gateway.deliveries.filter { ids.contains($0.key) }, Dictionary(uniqueKeysWithValues: ids.map { ($0, 1) }),
                       "the gateway delivered each message, once")
        XCTAssertGreaterThan(requests.count, ids.count, "the rescued batch did call again (same keys)")
        let batchJobs = try await fixture.jobs(DispatchNotificationBatch.self)
            .filter { Set($0.arguments.notificationIDs) == Set(ids) }
        XCTAssertEqual(batchJobs.map(\.state), [.completed])
        XCTAssertEqual(batchJobs.first?.attempt, 2, "the killed attempt, then the rescued one")
        let handedOff = try await fixture.jobs(DispatchNotification.self).filter { ids.contains($0.arguments.notificationID) }
        XCTAssertTrue(handedOff.isEmpty, "nothing needed a job of its own")
    }
}

/// A gateway that honours idempotency keys, as a real SMS gateway does: a key it
/// has seen is answered again without a second delivery, so a message is delivered
/// twice only if it comes with a second key. Of the keys it watches, it answers
/// only the first few until told to answer everything; the rest hang.
final class DedupingGateway: Sendable {
    private struct State {
        var answerFirst: Int
        var watched: Set<String>
        var answerAll = false
        var keysSeen: Set<String> = []
        /// Deliveries per notification id.
        var deliveries: [Int64: Int] = [:]
    }

    private let state: Mutex<State>

    init(answerFirst: Int, of watched: Set<String>) {
        state = Mutex(State(answerFirst: answerFirst, watched: watched))
    }

    func answer(_ request: StubHTTPServer.Request) -> StubHTTPServer.Response? {
        let key = request.header("Idempotency-Key") ?? ""
        let body = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any]
        let notificationID = (body?["notification_id"] as? NSNumber)?.int64Value ?? 0
        let answered = state.withLock { state -> Bool in
            if state.keysSeen.contains(key) { return true }
            let answeredWatched = state.keysSeen.intersection(state.watched).count
            guard state.answerAll || !state.watched.contains(key) || answeredWatched < state.answerFirst else {
                return false
            }
            state.keysSeen.insert(key)
            state.deliveries[notificationID, default: 0] += 1
            return true
        }
        return answered ? StubHTTPServer.Response(body: #"{"message_id": "m-\#(key)"}"#) : nil
    }

    func answerEverything() { state.withLock { $0.answerAll = true } }

    /// Deliveries per notification id.
    var deliveries: [Int64: Int] { state.withLock { $0.deliveries } }
    /// Watched messages delivered so far.
    var delivered: Int { state.withLock { $0.keysSeen.intersection($0.watched).count } }
}
