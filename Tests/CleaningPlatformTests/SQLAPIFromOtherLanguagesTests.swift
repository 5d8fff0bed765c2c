import CleaningPlatform
import Foundation
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The SQL API driven from outside Swift, as a front end in another language
/// would: `psql` and Python (psycopg 3) logged in as a member of `cleaning_app`,
/// with a `queue-worker` process doing the background work.
final class SQLAPIFromOtherLanguagesTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + TestDatabase.uniqueName("sql-api")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    /// A login role in the app's group, as the front end would have.
    private func appLogin(_ fixture: PlatformFixture) async throws -> String {
        let role = TestDatabase.uniqueName("shop")
        _ = try await fixture.pool.query("CREATE ROLE \(role) LOGIN IN ROLE cleaning_app")
        return try PostgresPrograms.url(as: role)
    }

    private func worker() throws -> ChildProcess {
        try ChildProcess(
            executable: try TestDatabase.executable("queue-worker"), arguments: ["--poll-interval", "0.2"],
            environment: ["DATABASE_URL": try TestDatabase.url], outputPath: "\(folder)/worker.log")
    }

    private func stop(_ worker: ChildProcess) async {
        worker.signal(SIGTERM)
        let status = await worker.wait(timeout: .seconds(30))
        let log = (try? String(contentsOfFile: "\(folder)/worker.log", encoding: .utf8)) ?? ""
        XCTAssertEqual(status, 0, "the worker stopped cleanly; the end of its log:\n\(log.suffix(6000))")
    }

    /// Runs a psql script file with `variables` (psql's -v, so values are never
    /// spliced into SQL text) as `url`'s role; returns its exit status and output.
    private func psql(_ script: String, _ variables: [String: String], url: String) async throws -> (Int32, String) {
        let output = "\(folder)/psql-\(UUID().uuidString).log"
        let process = try ChildProcess(
            executable: try PostgresPrograms.path("psql"),
            arguments: ["-X", "-d", url, "-f", script] + variables.sorted { $0.key < $1.key }.flatMap { ["-v", "\($0.key)=\($0.value)"] },
            outputPath: output)
        let status = await process.wait(timeout: .seconds(60)) ?? -99
        return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    private func write(_ text: String, as name: String) throws -> String {
        let path = "\(folder)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private static func time(_ date: Date) -> String {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return format.string(from: date)
    }

    /// The messages queued about an order: dedupe key → status.
    private func messages(_ order: Int64, _ fixture: PlatformFixture) async throws -> [String: String] {
        var messages: [String: String] = [:]
        for row in try await fixture.pool.query(
            "SELECT dedupe_key, status FROM platform.notifications WHERE dedupe_key ~ ('^[a-z_]+:' || $1 || ':')", [order]
        ).rows {
            let (key, status) = try row.decode((String, String).self)
            messages[key] = status
        }
        return messages
    }

    /// book → assign → reschedule (psql) … the new time's 24 h reminder goes out and
    /// the old time's never does … start → complete → review (psql), all against a
    /// running queue-worker; then the database says what was sent and what not.
    func testAWholeOrderDrivenFromPsqlSendsWhatIsDueAndNothingStale() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.cleaner()
        let app = try await appLogin(fixture)
        let worker = try worker()

        // First booked for a day and 8 s from now (its 24 h reminder due in 8 s),
        // then moved 5 s earlier (due in 3 s) before the first one is due.
        let booked = Date()
        let first = booked.addingTimeInterval(86_400 + 8)
        let moved = booked.addingTimeInterval(86_400 + 3)
        let bookAssignMove = try write(
            """
            \\set ON_ERROR_STOP on
            SELECT platform.book_order(customer_id => :customer, service_type_id => 1, address => '上海市徐汇区漕溪北路88号',
                latitude => 31.19, longitude => 121.44, appointment_start => :'first', duration_minutes => 120,
                amount_fen => 12000) AS order_id \\gset
            SELECT platform.assign_order(:order_id, :cleaner);
            SELECT platform.reschedule_order(:order_id, :'moved');
            """, as: "book.sql")
        let (booking, bookingOutput) = try await psql(
            bookAssignMove, ["customer": "\(customer.id)", "cleaner": "\(cleaner.id)", "first": Self.time(first), "moved": Self.time(moved)],
            url: app)
        XCTAssertEqual(booking, 0, bookingOutput)
        let order = try await fixture.pool.query("SELECT id FROM platform.orders WHERE customer_id = $1", [customer.id])
            .scalar(Int64.self)
        let epoch = { (date: Date) async throws -> Int64 in
            try await fixture.pool.query("SELECT trunc(extract(epoch FROM $1::timestamptz))::int8", [date]).scalar(Int64.self)
        }
        let (firstEpoch, movedEpoch) = (try await epoch(first), try await epoch(moved))
        let movedReminder = "reminder:\(order):customer_24h:\(movedEpoch)"
        // Wait for the new time's reminder, and past the old one's due time (plus
        // staging slack), so a stale reminder would have had its chance to go out.
        let reminded = try await fixture.eventually(timeout: .seconds(40)) {
            try await self.messages(order, fixture)[movedReminder] == "sent" && Date() > first.addingTimeInterval(-86_400 + 3)
        }
        let sofar = try await messages(order, fixture)
        XCTAssertTrue(reminded, "the moved appointment's 24 h reminder was sent: \(sofar)")

        let startCompleteReview = try write(
            """
            \\set ON_ERROR_STOP on
            SELECT platform.start_order(:order_id);
            SELECT platform.complete_order(:order_id);
            SELECT platform.review_order(:order_id, 5, '很满意');
            """, as: "finish.sql")
        let (finishing, finishingOutput) = try await psql(startCompleteReview, ["order_id": "\(order)"], url: app)
        XCTAssertEqual(finishing, 0, finishingOutput)
        let statuses = [OrderStatus.accepted, OrderStatus.inService, OrderStatus.completed].map { "status:\(order):\($0)" }
        let finished = try await fixture.eventually(timeout: .seconds(30)) {
            let messages = try await self.messages(order, fixture)
            return statuses.allSatisfy { messages[$0] == "sent" }
        }
        XCTAssertTrue(finished, "the status notifications were sent")
        await stop(worker)

        // Sent: the cleaner's assignment, the moved time's 24 h reminder, the three
        // status changes. Never queued: the old time's reminders, the 2 h and 1 h
        // reminders (the service started first).
        let expected = Dictionary(
            uniqueKeysWithValues: (statuses + ["reminder:\(order):cleaner_assigned:\(firstEpoch)", movedReminder]).map { ($0, "sent") })
        // Booking starts dispatch: whether a round offered the order (and the assign
        // then withdrew the offer) before psql assigned it depends on timing, and
        // OrderDispatchTests checks those messages; here only the life cycle's count.
        let actual = try await messages(order, fixture).filter { !$0.key.hasPrefix("offer") }
        XCTAssertEqual(actual, expected)
        let reminders = try await fixture.pool.query(
            """
            SELECT args->>'moment', (args->>'appointmentAt')::int8, state, errors->-1->>'error' FROM queue.jobs
            WHERE kind = 'order.reminder' AND tags @> ARRAY['order:' || $1] ORDER BY id
            """, [order]
        ).rows.map { try $0.decode((String, Int64, String, String?).self) }
        let described = reminders.map { "\($0.0)@\($0.1 == firstEpoch ? "first" : "moved") \($0.2) \($0.3 ?? "")" }
        XCTAssertEqual(
            described,
            [
                "customer_24h@first cancelled cancelled: order rescheduled",
                "customer_2h@first cancelled cancelled: order rescheduled",
                "cleaner_assigned@first completed ",
                "cleaner_1h@first cancelled cancelled: order rescheduled",
                "customer_24h@moved completed ",
                "customer_2h@moved cancelled cancelled: order started",
                "cleaner_1h@moved cancelled cancelled: order started",
            ])
        let (status, reviews, collected) = try await fixture.pool.query(
            """
            SELECT o.status, (SELECT count(*) FROM platform.reviews AS r WHERE r.order_id = o.id)::int8,
                   (SELECT count(*) FROM platform.ledger_transactions WHERE reference = 'collection:' || o.id)::int8
            FROM platform.orders AS o WHERE o.id = $1
            """, [order]
        ).first!.decode((String, Int64, Int64).self)
        XCTAssertEqual(status, OrderStatus.completed)
        XCTAssertEqual(reviews, 1)
        XCTAssertEqual(collected, 1, "the payment was posted to the ledger")
    }

    /// The README's examples are these files, verbatim.
    private static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/examples")

    private func assertInREADME(_ file: URL) throws {
        let readme = try String(
            contentsOf: Self.examples.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md"),
            encoding: .utf8)
        let example = try String(contentsOf: file, encoding: .utf8)
        XCTAssertTrue(readme.contains(example), "README.md shows \(file.lastPathComponent) verbatim")
    }

    func testTheREADMEsPsqlExampleRuns() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.cleaner()
        let script = Self.examples.appendingPathComponent("order-life-cycle.psql")
        try assertInREADME(script)
        let (status, output) = try await psql(
            script.path,
            [
                "customer": "\(customer.id)", "cleaner": "\(cleaner.id)",
                "appointment": Self.time(Date().addingTimeInterval(3 * 86_400)),
                "moved_to": Self.time(Date().addingTimeInterval(4 * 86_400)),
            ], url: try await appLogin(fixture))
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains(OrderStatus.completed), output)
        let (orders, reviewed) = try await fixture.pool.query(
            """
            SELECT count(*)::int8, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM platform.reviews AS r WHERE r.order_id = o.id))::int8
            FROM platform.orders AS o WHERE o.customer_id = $1 AND o.status = $2
            """, [customer.id, OrderStatus.completed]
        ).first!.decode((Int64, Int64).self)
        XCTAssertEqual(orders, 1)
        XCTAssertEqual(reviewed, 1)
    }

    /// Debian's python3 with python3-psycopg (the interpreter the package installs into).
    func testTheREADMEsPythonExampleRuns() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.cleaner()
        let script = Self.examples.appendingPathComponent("order_life_cycle.py")
        try assertInREADME(script)
        let output = "\(folder)/python.log"
        let python = try ChildProcess(
            executable: "/usr/bin/python3", arguments: [script.path, "\(customer.id)", "\(cleaner.id)"],
            environment: ["DATABASE_URL": try await appLogin(fixture)], outputPath: output)
        let status = await python.wait(timeout: .seconds(60))
        let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        XCTAssertEqual(status, 0, printed)
        XCTAssertTrue(printed.contains("refused: order "), printed)
        XCTAssertTrue(printed.contains("is \(OrderStatus.inService), so it cannot be cancelled"), printed)
        let order = try await fixture.pool.query(
            "SELECT id FROM platform.orders WHERE customer_id = $1 AND status = $2", [customer.id, OrderStatus.completed]
        ).scalar(Int64.self)
        XCTAssertTrue(printed.contains("order \(order): \(OrderStatus.completed); job "), printed)
        let statuses = try await fixture.pool.query(
            "SELECT count(*)::int8 FROM platform.notifications WHERE dedupe_key LIKE 'status:' || $1 || ':%'", [order]
        ).scalar(Int64.self)
        XCTAssertEqual(statuses, 3, "accepted, in service, completed — not cancelled")
    }
}
