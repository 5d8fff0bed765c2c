import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The platform's SQL API (`platform.*`, sql/0012_sql_api.sql) as a front end in
/// another language calls it, and the `cleaning_app` role it is granted to.
final class PlatformSQLAPITests: XCTestCase {
    private func login(_ group: String, _ fixture: PlatformFixture) async throws -> PostgresConnection {
        let name = TestDatabase.uniqueName("role")
        _ = try await fixture.pool.query("CREATE ROLE \(name) LOGIN IN ROLE \(group)")
        return try PostgresConnection.connect(
            PostgresConfiguration(conninfo: try TestDatabase.url + "?user=\(name)", applicationName: "sql-api"))
    }

    private func book(_ customer: Int64, at appointment: Date, on connection: PostgresConnection) throws -> Int64 {
        try connection.query(
            "SELECT platform.book_order($1, 1, '上海市黄浦区人民路1号', 31.23, 121.47, $2, 180, 15000)", [customer, appointment]
        ).scalar(Int64.self)
    }

    /// What an action wrote: the order's row, its jobs and its messages.
    private func footprint(_ order: Int64, _ fixture: PlatformFixture) async throws -> String {
        let row = try await fixture.pool.query(
            """
            SELECT (SELECT row_to_json(o)::text FROM platform.orders AS o WHERE o.id = $1),
                   (SELECT string_agg(id || ':' || state, ',' ORDER BY id) FROM queue.jobs WHERE tags @> ARRAY['order:' || $1]),
                   (SELECT count(*) FROM platform.notifications WHERE dedupe_key LIKE 'status:' || $1 || ':%')::text,
                   (SELECT count(*) FROM platform.ledger_transactions WHERE reference = 'collection:' || $1)::text,
                   (SELECT count(*) FROM platform.reviews WHERE order_id = $1)::text
            """, [order]
        ).first!
        return try (0..<5).map { try row.decode($0, as: String?.self) ?? "-" }.joined(separator: " | ")
    }

    func testTheOrderStatusesAreTheSameInSwiftAndSQL() throws {
        try TestDatabase.migrate()
        let connection = try TestDatabase.connect()
        let pairs = [
            ("waiting", OrderStatus.waiting), ("accepted", OrderStatus.accepted), ("in_service", OrderStatus.inService),
            ("completed", OrderStatus.completed), ("cancelled", OrderStatus.cancelled),
        ]
        for (name, swift) in pairs {
            XCTAssertEqual(try connection.query("SELECT platform.order_status($1)", [name]).scalar(String.self), swift)
        }
        // The orders table accepts exactly these.
        let allowed = try connection.query(
            """
            SELECT pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = 'platform.orders'::regclass AND conname = 'orders_status_check'
            """
        ).scalar(String.self)
        for (_, swift) in pairs { XCTAssertTrue(allowed.contains("'\(swift)'"), allowed) }
    }

    /// Each illegal action is an error with SQLSTATE 55000 naming the order and its
    /// status (P0002 for an order that does not exist), and changes nothing.
    func testIllegalTransitionsAreRefusedByNameAndWriteNothing() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.cleaner()
        let connection = try TestDatabase.connect()
        let now = Date()
        let waiting = try book(customer.id, at: now.addingTimeInterval(3 * 86_400), on: connection)
        let done = try book(customer.id, at: now.addingTimeInterval(3 * 86_400), on: connection)
        for step in ["assign_order($1, \(cleaner.id))", "start_order($1)", "complete_order($1)"] {
            _ = try connection.query("SELECT platform.\(step)", [done])
        }
        let cases: [(String, Int64, String)] = [
            ("start_order($1)", waiting, OrderStatus.waiting),
            ("complete_order($1)", waiting, OrderStatus.waiting),
            ("review_order($1, 5)", waiting, OrderStatus.waiting),
            ("file_complaint($1, '没来')", waiting, OrderStatus.waiting),
            ("reschedule_order($1, now() + interval '5 days')", done, OrderStatus.completed),
            ("cancel_order($1)", done, OrderStatus.completed),
            ("assign_order($1, \(cleaner.id))", done, OrderStatus.completed),
            ("start_order($1)", done, OrderStatus.completed),
            ("complete_order($1)", done, OrderStatus.completed),
        ]
        for (call, order, status) in cases {
            let before = try await footprint(order, fixture)
            XCTAssertThrowsError(try connection.query("SELECT platform.\(call)", [order]), call) { error in
                let error = error as? PostgresError
                XCTAssertEqual(error?.sqlState, "55000", "\(call): \(String(describing: error))")
                XCTAssertTrue(error?.message.contains("order \(order) is \(status)") ?? false, "\(call): \(String(describing: error))")
            }
            let after = try await footprint(order, fixture)
            XCTAssertEqual(after, before, "\(call) wrote nothing")
        }
        XCTAssertThrowsError(try connection.query("SELECT platform.start_order(-5)")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "P0002", "\(error)")
            XCTAssertTrue("\(error)".contains("order -5 does not exist"), "\(error)")
        }
        _ = try connection.query("SELECT platform.review_order($1, 5, '很好')", [done])
        XCTAssertThrowsError(try connection.query("SELECT platform.review_order($1, 4)", [done])) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "23505", "\(error)")
        }
        XCTAssertThrowsError(try connection.query("SELECT platform.review_order($1, 6)", [done])) { error in
            XCTAssertTrue("\(error)".contains("rating must be 1 to 5"), "\(error)")
        }
    }

    /// Every job the SQL actions queue is one its handler accepts: the kind is a
    /// platform kind and the arguments pass the kind's strict decoding.
    func testEveryJobTheSQLActionsQueueIsAcceptedByItsKind() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.cleaner()
        let connection = try TestDatabase.connect()
        let watermark = try connection.query("SELECT COALESCE(max(id), 0) FROM queue.jobs").scalar(Int64.self)
        let order = try book(customer.id, at: Date().addingTimeInterval(3 * 86_400), on: connection)
        _ = try connection.query("SELECT platform.assign_order($1, $2)", [order, cleaner.id])
        _ = try connection.query("SELECT platform.reschedule_order($1, now() + interval '4 days')", [order])
        _ = try connection.query("SELECT platform.start_order($1)", [order])
        _ = try connection.query("SELECT platform.complete_order($1)", [order])
        _ = try connection.query("SELECT platform.review_order($1, 5, '干净')", [order])
        _ = try connection.query("SELECT platform.file_complaint($1, '迟到十分钟')", [order])
        _ = try connection.query("SELECT platform.request_verification_code($1, '482913')", [customer.phone])
        _ = try connection.query("SELECT platform.request_withdrawal($1, 500)", [cleaner.id])
        let exam = try connection.withTransaction { connection -> Int64 in
            let exam = try connection.query(
                "INSERT INTO platform.exams (skill, title, pass_mark) VALUES ($1, '地板养护', 5) RETURNING id",
                ["floors-\(UUID().uuidString.prefix(8))"]
            ).scalar(Int64.self)
            try connection.execute(
                "INSERT INTO platform.exam_questions (exam_id, position, kind, points, answer_key) VALUES ($1, 1, 'true_false', 10, 'true')",
                [exam])
            return exam
        }
        _ = try connection.query("SELECT platform.submit_exam($1, $2, '{\"1\": true}')", [exam, cleaner.id])

        let jobs = try connection.query(
            "SELECT kind, args::text, queue FROM queue.jobs WHERE id > $1 ORDER BY id", [watermark]
        ).rows.map { try $0.decode((String, String, String).self) }
        XCTAssertEqual(
            Set(jobs.map(\.0)),
            [
                OrderReminder.kind, DispatchNotification.kind, UpgradeTier.kind, GradeExamSubmission.kind, ProcessWithdrawal.kind,
                DispatchOrder.kind, EscalateComplaint.kind,
            ])
        for (kind, arguments, queue) in jobs {
            XCTAssertNoThrow(
                try PlatformJobs.catalogue.validate(JobRequest(kind: kind, argumentsJSON: arguments)), "\(kind) \(arguments)")
            XCTAssertNotNil(PlatformJobs.queues[queue], "\(kind) is on a queue the platform's workers work: \(queue)")
        }
    }

    /// Through the SQL API's enqueue functions the app enqueues only the kinds granted
    /// to it (queue.enqueue_grants: a tier upgrade), not a payment or a campaign batch
    /// with arguments of its choosing; a role that may write queue.jobs itself is not
    /// limited. A refusal names the role and the kind and writes nothing.
    func testTheAppEnqueuesOnlyTheKindsGrantedToIt() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let queue = TestDatabase.uniqueName("grants")
        let app = try await login("cleaning_app", fixture)
        func jobs() async throws -> [String] {
            try await fixture.pool.query("SELECT kind FROM queue.jobs WHERE queue = $1 ORDER BY id", [queue]).rows
                .map { try $0.decode(String.self) }
        }
        let allowed = try app.query(
            "SELECT queue.enqueue('tier.upgrade', jsonb_build_object('customerID', $1::int8), queue => $2)", [customer.id, queue])
        XCTAssertGreaterThan(try allowed.scalar(Int64.self), 0)
        for statement in [
            "SELECT queue.enqueue('payout.settle_cleaner', '{\"cleanerID\": 1}', queue => $1)",
            "SELECT * FROM queue.enqueue_many(jsonb_build_array(jsonb_build_object('kind', 'tier.upgrade', 'queue', $1::text), jsonb_build_object('kind', 'campaign.send_batch', 'queue', $1::text)))",
        ] {
            XCTAssertThrowsError(try app.query(statement, [queue]), statement) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState, "42501", "\(error)")
                XCTAssertTrue("\(error)".contains("may not enqueue jobs of kind"), "\(error)")
            }
        }
        XCTAssertThrowsError(try app.query(
            "SELECT * FROM queue.enqueue_many(jsonb_build_array(jsonb_build_object('kind', 'tier.upgrade', 'queue', $1::text), jsonb_build_object('kind', 'campaign.send_batch', 'queue', $1::text)))",
            [queue])) { error in
            XCTAssertTrue("\(error)".contains("job 2:") && "\(error)".contains("campaign.send_batch"), "names the element: \(error)")
        }
        let refusedJobs = try await jobs()
        XCTAssertEqual(refusedJobs, ["tier.upgrade"], "a refused call writes nothing")
        // A grant to a role the app's login belongs to opens the kind; a worker may anyway.
        let kind = TestDatabase.uniqueName("kind")
        _ = try await fixture.pool.query("INSERT INTO queue.enqueue_grants (grantee, kind) VALUES ('cleaning_app', $1)", [kind])
        _ = try app.query("SELECT queue.enqueue($1, queue => $2)", [kind, queue])
        _ = try await fixture.pool.query("DELETE FROM queue.enqueue_grants WHERE kind = $1", [kind])
        let worker = try await login("cleaning_worker", fixture)
        _ = try worker.query("SELECT queue.enqueue('payout.settle_cleaner', '{\"cleanerID\": 1}', queue => $1)", [queue])
        let written = try await jobs()
        XCTAssertEqual(written, ["tier.upgrade", kind, "payout.settle_cleaner"])
        _ = try await fixture.pool.query("DELETE FROM queue.jobs WHERE queue = $1", [queue])
    }

    /// The app role calls the API and reads what an app shows, and nothing else:
    /// no job rows, no ledger, no payouts or withdrawals, no notifications (they
    /// hold verification codes), no internal functions, no direct writes.
    func testTheAppRoleUsesTheAPIButCannotTouchJobsLedgerOrPayouts() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.cleaner()
        let app = try await login("cleaning_app", fixture)
        let refused = [
            "SELECT * FROM queue.jobs",
            "INSERT INTO queue.jobs (kind) VALUES ('x')",
            "UPDATE queue.jobs SET state = 'cancelled'",
            "SELECT * FROM platform.ledger_entries",
            "SELECT * FROM platform.ledger_transactions",
            "SELECT * FROM platform.ledger_accounts",
            "SELECT * FROM platform.payout_items",
            "SELECT * FROM platform.payout_runs",
            "SELECT * FROM platform.order_settlements",
            "SELECT * FROM platform.withdrawals",
            "SELECT * FROM platform.notifications",
            "SELECT * FROM platform.exam_questions",
            "UPDATE platform.orders SET status = '已完成'",
            "INSERT INTO platform.reviews (order_id, rating) VALUES (1, 5)",
            "UPDATE platform.customers SET points_balance = 1000000",
            "SELECT queue.enqueue_job('x')",
            "SELECT queue.cancel_waiting_jobs('order:1', 'x')",
            "SELECT platform.queue_notification('verification_code', '{}', '13800000000', 'Asia/Shanghai', 'k')",
            "SELECT platform.schedule_order_reminder(1, 'customer_2h', now() + interval '1 day', NULL, now())",
            "SELECT platform.lock_order(1, 'x', ARRAY['waiting'])",
            "SELECT platform.ledger_account('platform:cash', 'asset')",
            "CREATE TABLE platform.sneaky (a integer)",
        ]
        for sql in refused {
            XCTAssertThrowsError(try app.execute(sql), sql) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState, "42501", "\(sql): \(error)")
            }
        }
        // It acts at the present time: no backdated (or postdated) actions.
        for shifted in ["now() - interval '1 day'", "now() + interval '1 hour'"] {
            XCTAssertThrowsError(
                try app.query(
                    "SELECT platform.book_order($1, 1, 'x', 31, 121, now() + interval '3 days', 60, 100, as_of => \(shifted))",
                    [customer.id])
            ) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState, "22023", "\(error)")
                XCTAssertTrue("\(error)".contains("more than 5 minutes from now"), "\(error)")
            }
        }
        // …and runs a whole order through the API, with its jobs and its payment.
        let order = try book(customer.id, at: Date().addingTimeInterval(3 * 86_400), on: app)
        _ = try app.query("SELECT platform.assign_order($1, $2)", [order, cleaner.id])
        _ = try app.query("SELECT platform.start_order($1)", [order])
        _ = try app.query("SELECT platform.complete_order($1)", [order])
        _ = try app.query("SELECT platform.review_order($1, 5)", [order])
        XCTAssertEqual(try app.query("SELECT status FROM platform.orders WHERE id = $1", [order]).scalar(String.self), OrderStatus.completed)
        let job = try app.query("SELECT queue.enqueue('tier.upgrade', jsonb_build_object('customerID', $1::int8))", [customer.id])
            .scalar(Int64.self)
        XCTAssertGreaterThan(job, 0)
        let collected = try await fixture.pool.query(
            """
            SELECT sum(e.amount_fen)::int8 FROM platform.ledger_entries AS e
            JOIN platform.ledger_transactions AS t ON t.id = e.transaction_id
            JOIN platform.ledger_accounts AS a ON a.id = e.account_id
            WHERE t.reference = $1 AND a.code = 'platform:cash'
            """, ["collection:\(order)"]
        ).scalar(Int64.self)
        XCTAssertEqual(collected, 15_000, "the payment was posted by the function the app called")
    }
}
