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
        let advisoryWaiters = """
            SELECT count(*)::int8 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
            """
        func holder() async throws -> (String, String?)? {
            try await fixture.pool.query(jobState, [notificationID]).first?.decode((String, String?).self)
        }
        // Hold the first worker inside the handler, after it read the notification
        // and before the gateway: its flow-control permit waits behind this lock.
        let blocker = try TestDatabase.connect()
        try blocker.execute("BEGIN")
        try blocker.execute(
            "SELECT pg_advisory_xact_lock(hashtext('queue.rate'), hashtext($1))", ["notify:\(phone):order_status"])
        let stalledName = TestDatabase.uniqueName("stalled")
        // A long lease, so its next heartbeat (a third of it) is not what notices the
        // loss on resume: the check right before the gateway call has to.
        let stalled = try worker(stalledName, lease: "60")
        let holding = try await fixture.eventually(timeout: .seconds(60)) {
            let waiting = try await fixture.pool.query(advisoryWaiters).scalar(Int64.self)
            return try await holder()?.1 == stalledName && waiting > 0
        }
        XCTAssertTrue(holding, "the first worker holds the job and waits inside its handler")
        // Stopped: it takes its permit (the lock is free now) but cannot go on. Stopped
        // past its lease: rather than wait out 60 s, the lease is made to run out now.
        stalled.signal(SIGSTOP)
        try blocker.execute(
            """
            UPDATE queue.jobs SET lease_expires_at = now() - interval '1 second'
            WHERE kind = 'notification.dispatch' AND (args->>'notificationID')::int8 = $1 AND state = 'running'
            """, [notificationID])
        try blocker.execute("COMMIT")

        // A second worker rescues the job and runs it; its permit waits for the
        // stopped worker's transaction.
        let rescuerName = TestDatabase.uniqueName("rescuer")
        let rescuer = try worker(rescuerName, lease: "10")
        let rescued = try await fixture.eventually(timeout: .seconds(60)) {
            try await holder()?.1 == rescuerName
        }
        XCTAssertTrue(rescued, "the second worker took the job over")

        // Resumed, the first worker must not call the gateway for the job it lost.
        stalled.signal(SIGCONT)
        let sent = try await fixture.eventually(timeout: .seconds(60)) {
            try await fixture.notifications(to: phone).first?.1 == "sent"
        }
        XCTAssertTrue(sent, "the rescuing worker sent it")
        rescuer.signal(SIGTERM)
        stalled.signal(SIGTERM)
        let rescuerStatus = await rescuer.wait(timeout: .seconds(60))
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
