import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A worker process stopped (SIGSTOP) while it held a notification job, past its
/// lease; another worker rescues and sends it; the first one is resumed.
final class StalledWorkerTests: XCTestCase {
    func testAWorkerStoppedPastItsLeaseDoesNotCallTheGatewayForTheRescuedJob() async throws {
        let fixture = try PlatformFixture()
        let server = try makeServer { _ in StubHTTPServer.Response(body: #"{"message_id": "m-1"}"#) }
        let phone = PlatformFixture.phone()
        let queued = try await fixture.pool.withTransaction { connection in
            try NotificationOutbox.queue(
                template: "order_status", parameters: ["order": "7", "status": "已接单"], recipient: phone,
                dedupeKey: UUID().uuidString, now: Date(), on: connection)
        }
        let notificationID = try XCTUnwrap(queued)
        let logs = NSTemporaryDirectory() + TestDatabase.uniqueName("stalled")
        func worker(_ name: String, lease: String) throws -> ChildProcess {
            try ChildProcess(
                executable: try TestDatabase.executable("queue-worker"),
                arguments: [
                    "--queues", "\(NotificationOutbox.dispatchQueue)=1", "--lease", lease, "--poll-interval", "0.2",
                    "--worker-id", name,
                ],
                environment: [
                    "DATABASE_URL": try TestDatabase.url, "NOTIFY_PROVIDER": "http",
                    "NOTIFY_HTTP_URL": server.baseURL.absoluteString,
                ],
                outputPath: "\(logs)-\(name).log")
        }
        let jobState = """
            SELECT state, leased_by FROM queue.jobs
            WHERE kind = 'notification.dispatch' AND (args->>'notificationID')::int8 = $1
            """
        // Hold the first worker inside the handler, before the gateway: its read of
        // the notification waits behind this lock.
        let blocker = try TestDatabase.connect()
        try blocker.execute("BEGIN")
        try blocker.execute("LOCK TABLE platform.notifications IN ACCESS EXCLUSIVE MODE")
        let stalledName = TestDatabase.uniqueName("stalled")
        let stalled = try worker(stalledName, lease: "1")
        let holding = try await fixture.eventually(timeout: .seconds(60)) {
            let row = try await fixture.pool.query(jobState, [notificationID]).first?.decode((String, String?).self)
            let waiting = try await fixture.pool.query(
                "SELECT count(*)::int8 FROM pg_locks WHERE NOT granted AND relation = 'platform.notifications'::regclass"
            ).scalar(Int64.self)
            return row?.0 == "running" && row?.1 == stalledName && waiting > 0
        }
        XCTAssertTrue(holding, "the first worker holds the job and waits inside its handler")
        stalled.signal(SIGSTOP)
        try blocker.execute("COMMIT")

        // Past its lease: a second worker rescues the job and sends it.
        let rescuer = try worker(TestDatabase.uniqueName("rescuer"), lease: "10")
        let sent = try await fixture.eventually(timeout: .seconds(60)) {
            try await fixture.notifications(to: phone).first?.1 == "sent"
        }
        XCTAssertTrue(sent, "the rescuing worker sent it")
        rescuer.signal(SIGTERM)
        let rescuerStatus = await rescuer.wait(timeout: .seconds(30))

        // Resumed, the first worker must not call the gateway for a job it lost;
        // stopping it waits for its handler to end.
        stalled.signal(SIGCONT)
        stalled.signal(SIGTERM)
        let stalledStatus = await stalled.wait(timeout: .seconds(60))
        XCTAssertEqual(rescuerStatus, 0)
        XCTAssertEqual(stalledStatus, 0)

        let calls = server.requests.filter { $0.bodyText.contains("\"notification_id\":\(notificationID)") }
        XCTAssertEqual(calls.count, 1, "exactly one gateway call for the notification")
        let permits = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM queue.rate_limit_permits WHERE key = $1", ["notify:\(phone):order_status"]
        ).scalar(Int64.self)
        XCTAssertEqual(permits, 1, "one send counted against the recipient's allowance")
        let final = try await fixture.pool.query(jobState, [notificationID]).first?.decode((String, String?).self)
        XCTAssertEqual(final?.0, "completed")
    }
}
