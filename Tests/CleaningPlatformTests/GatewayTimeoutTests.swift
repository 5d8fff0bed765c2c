import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The notification gateway's timeout, set for the worker process, and counted in
/// the time the process runs.
final class GatewayTimeoutTests: XCTestCase {
    private func queueNotification(_ fixture: PlatformFixture, to phone: String) async throws -> Int64 {
        let id = try await fixture.pool.withTransaction { connection in
            try NotificationOutbox.queue(
                template: "order_status", parameters: ["order": "9", "status": "已接单"], recipient: phone,
                dedupeKey: UUID().uuidString, now: Date(), on: connection)
        }
        return try XCTUnwrap(id)
    }

    private func worker(_ server: StubHTTPServer, timeout: String, log: String) throws -> ChildProcess {
        try ChildProcess(
            executable: try TestDatabase.executable("queue-worker"),
            arguments: ["--queues", "\(NotificationOutbox.dispatchQueue)=1", "--poll-interval", "0.2"],
            environment: [
                "DATABASE_URL": try TestDatabase.url, "NOTIFY_PROVIDER": "http",
                "NOTIFY_HTTP_URL": server.baseURL.absoluteString, "NOTIFY_HTTP_TIMEOUT": timeout,
            ],
            outputPath: log)
    }

    private func jobErrors(_ fixture: PlatformFixture, _ notificationID: Int64) async throws -> String {
        try await fixture.pool.query(
            """
            SELECT errors::text FROM queue.jobs
            WHERE kind = 'notification.dispatch' AND (args->>'notificationID')::int8 = $1
            """, [notificationID]
        ).first?.decode(0, as: String.self) ?? ""
    }

    func testTheConfiguredTimeoutEndsAHangingRequestAndBadValuesAreRefused() async throws {
        let fixture = try PlatformFixture()
        let server = try makeServer { _ in nil }  // never answers
        let phone = PlatformFixture.phone()
        let id = try await queueNotification(fixture, to: phone)
        let log = NSTemporaryDirectory() + TestDatabase.uniqueName("gateway-timeout") + ".log"
        let process = try worker(server, timeout: "0.3", log: log)
        let timedOut = try await fixture.eventually(timeout: .seconds(60)) {
            try await self.jobErrors(fixture, id).contains("timed out after 0.3 seconds")
        }
        process.signal(SIGTERM)
        let status = await process.wait(timeout: .seconds(60))
        let errors = try await jobErrors(fixture, id)
        XCTAssertTrue(timedOut, "the attempt failed on the configured timeout: \(errors)")
        XCTAssertEqual(status, 0)

        for bad in ["0", "-1", "abc", "nan", "inf", "121", "1e400"] {
            let refusedLog = NSTemporaryDirectory() + TestDatabase.uniqueName("gateway-timeout-bad") + ".log"
            let refused = try worker(server, timeout: bad, log: refusedLog)
            let exit = await refused.wait(timeout: .seconds(30))
            let output = (try? String(contentsOfFile: refusedLog, encoding: .utf8)) ?? ""
            XCTAssertNotNil(exit, "\(bad): the worker refuses to start")
            XCTAssertNotEqual(exit, 0, "\(bad): \(output)")
            XCTAssertLessThan(exit ?? 0, 128, "\(bad): an error exit, not a signal: \(output)")
            XCTAssertTrue(output.contains("NOTIFY_HTTP_TIMEOUT"), "\(bad): names the setting: \(output)")
        }
    }

    func testTimeTheWorkerSpentStoppedDoesNotCountTowardsTheTimeout() async throws {
        let fixture = try PlatformFixture()
        // Answers after 1 s; the worker is stopped for 5 s meanwhile, longer than its 3 s timeout.
        let server = try makeServer { _ in StubHTTPServer.Response(body: #"{"message_id": "late"}"#, delaySeconds: 1) }
        let phone = PlatformFixture.phone()
        let id = try await queueNotification(fixture, to: phone)
        let log = NSTemporaryDirectory() + TestDatabase.uniqueName("gateway-stop") + ".log"
        let process = try worker(server, timeout: "3", log: log)
        let asked = try await fixture.eventually(timeout: .seconds(60)) {
            server.requests.contains { $0.bodyText.contains("\"notification_id\":\(id)") }
        }
        XCTAssertTrue(asked)
        process.signal(SIGSTOP)
        try await Task.sleep(for: .seconds(5))
        process.signal(SIGCONT)
        let sent = try await fixture.eventually(timeout: .seconds(60)) {
            try await fixture.notifications(to: phone).first?.1 == "sent"
        }
        process.signal(SIGTERM)
        _ = await process.wait(timeout: .seconds(60))
        XCTAssertTrue(sent)
        let errors = try await jobErrors(fixture, id)
        XCTAssertFalse(errors.contains("timed out"), "the answer that came while it was stopped was taken: \(errors)")
        let calls = server.requests.filter { $0.bodyText.contains("\"notification_id\":\(id)") }
        XCTAssertEqual(calls.count, 1, "sent on the first try")
    }
}
