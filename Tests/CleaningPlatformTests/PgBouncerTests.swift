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
            let delay = body.contains(recipients.slow) ? 6.0 : 0
            return StubHTTPServer.Response(body: #"{"message_id": "m"}"#, delaySeconds: delay)
        }
        let logs = NSTemporaryDirectory() + TestDatabase.uniqueName("pgbouncer")
        // A throw or a timed-out wait must not leave a worker running against the
        // shared test database: whatever is still running when the test ends is killed.
        let live = Mutex<[ChildProcess]>([])
        addTeardownBlock { live.withLock { $0.forEach { $0.signal(SIGKILL) } } }
        func ended(_ process: ChildProcess) { live.withLock { $0.removeAll { $0.pid == process.pid } } }
        // Every platform queue but dispatch: its offering rounds would race the
        // front end's assignment, which is not what this test is about.
        let queues = PlatformJobs.queues.filter { $0.key != OrderDispatch.queue }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        func worker(_ name: String) throws -> ChildProcess {
            let process = try ChildProcess(
                executable: try TestDatabase.executable("queue-worker"),
                arguments: ["--queues", queues, "--lease", "2", "--poll-interval", "5", "--worker-id", name],
                environment: [
                    "DATABASE_URL": pooledURL, "DATABASE_POOLING": "transaction",
                    "DATABASE_LISTEN_URL": try TestDatabase.url, "NOTIFY_PROVIDER": "http",
                    "NOTIFY_HTTP_URL": server.baseURL.absoluteString, "NOTIFY_HTTP_TIMEOUT": "30",
                ],
                outputPath: "\(logs)-\(name).log")
            live.withLock { $0.append(process) }
            return process
        }
        func log(_ name: String) -> String { (try? String(contentsOfFile: "\(logs)-\(name).log", encoding: .utf8)) ?? "" }

        let firstName = TestDatabase.uniqueName("pooled-a")
        let first = try worker(firstName)
        let listening = try await direct.eventually {
            // The LISTEN session by its name, whatever statement it ran last.
            try await direct.pool.query(
                "SELECT count(*)::int8 FROM pg_stat_activity WHERE application_name = $1",
                ["queue-worker" + JobWorker.listenSessionNameSuffix]
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
            // (the cleaner may also have been offered the order by dispatch before the assignment)
            return customerSent.contains("order_reminder_2h") && cleanerSent.contains("cleaner_assigned")
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
        if await first.wait(timeout: .seconds(30)) != nil { ended(first) }
        let secondName = TestDatabase.uniqueName("pooled-b")
        let second = try worker(secondName)
        let rescued = try await direct.eventually(timeout: .seconds(60)) {
            try await direct.notifications(to: recipients.lost).first?.1 == "sent"
        }
        XCTAssertTrue(rescued, "the second worker rescued and sent it\n\(log(secondName))")
        second.signal(SIGTERM)
        let secondStatus = await second.wait(timeout: .seconds(60))
        if secondStatus != nil { ended(second) }
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
        XCTAssertEqual(slowJob.attempt, 1, "a 6 s send under a 2 s lease was never taken away: heartbeats renewed it")
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

    /// A front end in another language (psql here), logged in as a member of
    /// `cleaning_app`, drives an order through the SQL API via PgBouncer; the
    /// role's limits hold there too.
    func testAFrontEndCallsTheSQLAPIThroughPgBouncer() async throws {
        guard let pooledURL = try TestDatabase.pgbouncerURL() else {
            throw XCTSkip("pgbouncer is not installed (apt-get install pgbouncer): the PgBouncer test did not run")
        }
        let direct = try PlatformFixture()
        try await direct.pool.withConnection { connection in
            try connection.executeScript(
                """
                DO $$ BEGIN
                    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'front_end') THEN
                        CREATE ROLE front_end LOGIN IN ROLE cleaning_app;
                    END IF;
                END $$
                """)
        }
        let frontEndURL = pooledURL + "?user=front_end"
        let customer = try await direct.customer()
        let cleaner = try await direct.cleaner()
        let script = NSTemporaryDirectory() + TestDatabase.uniqueName("front-end") + ".sql"
        try """
            SELECT platform.book_order(:customer, 1, '上海市黄浦区人民路1号', 31.23, 121.47,
                now() + interval '3 days', 180, 15000) AS order_id \\gset
            SELECT platform.assign_order(:order_id, :cleaner);
            SELECT platform.reschedule_order(:order_id, now() + interval '4 days');
            SELECT platform.start_order(:order_id);
            SELECT platform.complete_order(:order_id);
            SELECT platform.review_order(:order_id, 5, '很干净');
            \\echo order :order_id
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let run = try await psql(
            frontEndURL, ["-v", "customer=\(customer.id)", "-v", "cleaner=\(cleaner.id)", "-f", script])
        XCTAssertEqual(run.status, 0, run.output)
        let orderLine = try XCTUnwrap(run.output.split(separator: "\n").first { $0.hasPrefix("order ") }, run.output)
        let order = try XCTUnwrap(Int64(orderLine.dropFirst("order ".count)))

        let (status, reviews, collections) = try await direct.pool.query(
            """
            SELECT o.status, (SELECT count(*) FROM platform.reviews WHERE order_id = o.id)::int8,
                   (SELECT count(*) FROM platform.ledger_transactions WHERE reference = 'collection:' || o.id)::int8
            FROM platform.orders AS o WHERE o.id = $1
            """, [order]
        ).first!.decode((String, Int64, Int64).self)
        XCTAssertEqual(status, "已完成")
        XCTAssertEqual(reviews, 1)
        XCTAssertEqual(collections, 1, "completing posted the customer's payment once")
        let statusNotices = try await direct.notifications(to: customer.phone).filter { $0.0 == "order_status" }
        XCTAssertEqual(statusNotices.count, 3, "accepted, started, completed")
        let reminders = try await direct.reminders(order)
        XCTAssertFalse(reminders.isEmpty)
        XCTAssertTrue(reminders.allSatisfy { $0.1 == "cancelled" || $0.0 == "cleaner_assigned" }, "\(reminders)")

        let refused = try await psql(frontEndURL, ["-c", "SELECT count(*) FROM queue.jobs"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("permission denied"), refused.output)
    }

    /// psql through `url` without reading ~/.psqlrc, stopping at the first error.
    private func psql(_ url: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let outputPath = NSTemporaryDirectory() + TestDatabase.uniqueName("psql") + ".out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let process = try ChildProcess(
            executable: try PostgresPrograms.path("psql"), arguments: ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url] + arguments,
            outputPath: outputPath)
        let status = await process.wait(timeout: .seconds(60)) ?? -99
        return (status, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
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
