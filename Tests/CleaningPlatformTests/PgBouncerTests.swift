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

/// The front end and the platform's worker processes through PgBouncer in
/// transaction pooling mode (`scripts/pgbouncer.sh`, started by the test), the
/// worker with `--pooling transaction` and LISTEN on a direct `--listen-url`.
/// Every verdict is read from the database over a direct connection.
final class PgBouncerTests: XCTestCase {
    /// Recipients whose gateway answers differ: the first try fails (a retry), is
    /// answered after a few seconds (heartbeats must keep the one-second lease), or
    /// is never answered (its worker is killed and the job rescued).
    private struct Recipients {
        let retry: String
        let slow: String
        let lost: String
    }

    func testTheOrderLifeCycleAndWorkerProcessesRunThroughPgBouncerInTransactionMode() async throws {
        guard let pooledURL = try TestDatabase.pgbouncerURL() else {
            throw XCTSkip("pgbouncer is not installed (apt-get install pgbouncer): the PgBouncer test did not run")
        }
        let direct = try PlatformFixture()
        let frontEnd = try PlatformFixture(
            configuration: PostgresConfiguration(conninfo: pooledURL, applicationName: "tests", pooling: .transaction))
        let customer = try await frontEnd.customer()
        let cleaner = try await frontEnd.cleaner()
        let recipients = Recipients(retry: customer.phone, slow: PlatformFixture.phone(), lost: PlatformFixture.phone())
        let firstTries = Mutex<Set<String>>([])
        let server = try makeServer { request in
            let body = request.bodyText
            let first = firstTries.withLock { $0.insert(body).inserted }
            if first && body.contains(recipients.retry) && body.contains("order_reminder_2h") {
                return StubHTTPServer.Response(status: 503, body: "{}")
            }
            if first && body.contains(recipients.lost) { return nil }
            let delay = body.contains(recipients.slow) ? 3.0 : 0
            return StubHTTPServer.Response(body: #"{"message_id": "m"}"#, delaySeconds: delay)
        }
        let logs = NSTemporaryDirectory() + TestDatabase.uniqueName("pgbouncer")
        func worker(_ name: String) throws -> ChildProcess {
            try ChildProcess(
                executable: try TestDatabase.executable("queue-worker"),
                arguments: ["--lease", "1", "--poll-interval", "5", "--worker-id", name],
                environment: [
                    "DATABASE_URL": pooledURL, "DATABASE_POOLING": "transaction",
                    "DATABASE_LISTEN_URL": try TestDatabase.url, "NOTIFY_PROVIDER": "http",
                    "NOTIFY_HTTP_URL": server.baseURL.absoluteString,
                ],
                outputPath: "\(logs)-\(name).log")
        }
        func log(_ name: String) -> String { (try? String(contentsOfFile: "\(logs)-\(name).log", encoding: .utf8)) ?? "" }

        let firstName = TestDatabase.uniqueName("pooled-a")
        let first = try worker(firstName)
        let listening = try await direct.eventually {
            try await direct.pool.query(
                "SELECT count(*)::int8 FROM pg_stat_activity WHERE application_name = 'queue-worker' AND query LIKE 'LISTEN %'"
            ).scalar(Int64.self) > 0
        }
        XCTAssertTrue(listening, "the worker LISTENs on its direct connection\n\(log(firstName))")

        // The front end's order life cycle, every statement through PgBouncer.
        let now = Date()
        let order = try await frontEnd.order(
            customerID: customer.id, appointment: now.addingTimeInterval(2 * 3600 + 3), now: now)
        try await frontEnd.pool.withTransaction { connection in
            try OrderBooking.assign(orderID: order, cleanerID: cleaner.id, now: Date(), on: connection)
        }
        let reminded = try await direct.eventually(timeout: .seconds(60)) {
            let customerSent = try await direct.notifications(to: customer.phone).filter { $0.1 == "sent" }.map(\.0)
            let cleanerSent = try await direct.notifications(to: cleaner.phone).filter { $0.1 == "sent" }.map(\.0)
            return customerSent.contains("order_reminder_2h") && cleanerSent == ["cleaner_assigned"]
        }
        XCTAssertTrue(reminded, "the 2 h reminder (after one failed try) and the cleaner's were sent\n\(log(firstName))")
        try await frontEnd.pool.withTransaction { connection in
            try OrderBooking.start(orderID: order, now: Date(), on: connection)
        }
        try await frontEnd.pool.withTransaction { connection in
            try OrderBooking.complete(orderID: order, now: Date(), on: connection)
        }
        let statuses = try await direct.eventually(timeout: .seconds(60)) {
            try await direct.notifications(to: customer.phone).filter { $0.0 == "order_status" && $0.1 == "sent" }.count == 3
        }
        XCTAssertTrue(statuses, "accepted, started and completed were each sent\n\(log(firstName))")

        // A send slower than the lease: heartbeats through PgBouncer keep it.
        let slow = try await queueStatus(to: recipients.slow, on: frontEnd)
        let slowSent = try await direct.eventually(timeout: .seconds(60)) {
            try await direct.notifications(to: recipients.slow).first?.1 == "sent"
        }
        XCTAssertTrue(slowSent, "the slow send completed\n\(log(firstName))")

        // A worker killed while it holds a job: another one rescues it.
        let lost = try await queueStatus(to: recipients.lost, on: frontEnd)
        let holding = try await direct.eventually(timeout: .seconds(60)) {
            server.requests.contains { $0.bodyText.contains(recipients.lost) }
        }
        XCTAssertTrue(holding, "the first worker called the gateway for the lost send\n\(log(firstName))")
        first.signal(SIGKILL)
        _ = await first.wait(timeout: .seconds(30))
        let secondName = TestDatabase.uniqueName("pooled-b")
        let second = try worker(secondName)
        let rescued = try await direct.eventually(timeout: .seconds(60)) {
            try await direct.notifications(to: recipients.lost).first?.1 == "sent"
        }
        XCTAssertTrue(rescued, "the second worker rescued and sent it\n\(log(secondName))")
        second.signal(SIGTERM)
        let secondStatus = await second.wait(timeout: .seconds(60))
        XCTAssertEqual(secondStatus, 0, log(secondName))

        // What the database says about each job.
        let dispatches = try await direct.jobs(DispatchNotification.self)
        func dispatch(_ notification: Int64) throws -> JobAdministration.KindJob<DispatchNotification> {
            try XCTUnwrap(dispatches.first { $0.arguments.notificationID == notification })
        }
        let reminderNotification = try await direct.pool.query(
            "SELECT id FROM platform.notifications WHERE recipient = $1 AND template_code = 'order_reminder_2h'",
            [customer.phone]
        ).scalar(Int64.self)
        let retried = try dispatch(reminderNotification)
        XCTAssertEqual(retried.state, .completed)
        XCTAssertEqual(retried.attempt, 2, "the 503 was retried once")
        let slowJob = try dispatch(slow)
        XCTAssertEqual(slowJob.state, .completed)
        XCTAssertEqual(slowJob.attempt, 1, "a 3 s send under a 1 s lease was never taken away: heartbeats renewed it")
        let lostJob = try dispatch(lost)
        XCTAssertEqual(lostJob.state, .completed)
        XCTAssertEqual(lostJob.attempt, 2, "the killed worker's attempt was rescued and run again")
        let lostCalls = server.requests.filter { $0.bodyText.contains(recipients.lost) }
        XCTAssertEqual(Set(lostCalls.compactMap { $0.header("Idempotency-Key") }).count, 1, "both calls carry one key")

        let reminders = try await direct.reminders(order)
        XCTAssertEqual(reminders.map(\.0).sorted(), ["cleaner_1h", "cleaner_assigned", "customer_2h"],
            "no 24 h reminder: its time had passed at booking")
        XCTAssertEqual(reminders.first { $0.0 == "cleaner_1h" }?.1, "cancelled", "the start cancelled the 1 h reminder")
        let tier = try await direct.jobs(UpgradeTier.self).filter { $0.arguments.customerID == customer.id }
        XCTAssertEqual(tier.map(\.state), [.completed], "completing the order ran the tier upgrade")
        let unbalanced = try await direct.unbalancedLedgerTransactions()
        XCTAssertEqual(unbalanced, 0)
    }

    /// An order-status notice to `recipient`, queued by the front end through PgBouncer.
    private func queueStatus(to recipient: String, on frontEnd: PlatformFixture) async throws -> Int64 {
        let queued = try await frontEnd.pool.withTransaction { connection in
            try NotificationOutbox.queue(
                template: "order_status", parameters: ["order": "7", "status": "已接单"], recipient: recipient,
                dedupeKey: UUID().uuidString, now: Date(), on: connection)
        }
        return try XCTUnwrap(queued)
    }
}
