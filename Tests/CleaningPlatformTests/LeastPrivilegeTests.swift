import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The worker role can run the platform's jobs and nothing more.
final class LeastPrivilegeTests: XCTestCase {
    private func login(_ group: String, _ fixture: PlatformFixture) async throws -> PostgresConfiguration {
        let name = TestDatabase.uniqueName("role")
        _ = try await fixture.pool.query("CREATE ROLE \(name) LOGIN IN ROLE \(group)")
        return PostgresConfiguration(conninfo: try TestDatabase.url + "?user=\(name)", applicationName: "least-privilege")
    }

    private func assertDenied(_ sql: String, on connection: PostgresConnection, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try connection.execute(sql), sql, file: file, line: line) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "42501", "\(sql): \(error)", file: file, line: line)
        }
    }

    func testTheWorkerRoleRunsJobsButCannotChangeTheSchemaOrReadWhatItDoesNotUse() async throws {
        let fixture = try PlatformFixture()
        let worker = try await login("cleaning_worker", fixture)
        let connection = try PostgresConnection.connect(worker)
        assertDenied("ALTER TABLE queue.jobs ADD COLUMN sneaky integer", on: connection)
        assertDenied("DROP TABLE platform.orders", on: connection)
        assertDenied("CREATE TABLE public.sneaky (a integer)", on: connection)
        assertDenied("CREATE TABLE queue.sneaky (a integer)", on: connection)
        assertDenied("SELECT * FROM schema_migrations", on: connection)
        assertDenied("UPDATE platform.ledger_entries SET amount_fen = 1", on: connection)
        assertDenied("DELETE FROM platform.ledger_transactions", on: connection)
        assertDenied("UPDATE platform.commission_rates SET rate_bp = 0", on: connection)

        // …and still does its job: enqueue, claim, complete, platform handlers.
        let customer = try await fixture.customer()
        let pool = PostgresPool(configuration: worker, maxConnections: 4)
        let maintenance = try await JobQueueClient(database: pool).enqueue([
            try JobRequest(RecalculateTiers(), queue: PlatformJobs.maintenanceQueue),
            try JobRequest(ExpireCoupons(), queue: PlatformJobs.maintenanceQueue),
        ])
        _ = try await pool.withTransaction { connection in
            try NotificationOutbox.queue(
                template: "order_status", parameters: ["order": "1", "status": "已完成"], recipient: customer.phone,
                dedupeKey: UUID().uuidString, now: Date(), on: connection)
        }
        let services = PlatformServices(provider: RecordingProvider(), log: .silent)
        let engine = try JobWorker(
            database: worker, handlers: PlatformJobs.handlers(services),
            configuration: WorkerConfiguration(
                queues: PlatformJobs.queues, workerID: TestDatabase.uniqueName("least"), pollInterval: .milliseconds(100),
                leaderInterval: .milliseconds(200)),
            log: .silent)
        let done = try await engine.running {
            try await fixture.eventually {
                var finished = try await fixture.notifications(to: customer.phone).first?.1 == "sent"
                for job in maintenance where try await fixture.jobState(job.id)?.isFinal != true { finished = false }
                return finished
            }
        }
        XCTAssertTrue(done, "the worker role dispatched a notification and ran the maintenance jobs")
        for job in maintenance {
            let state = try await fixture.jobState(job.id)
            XCTAssertEqual(state, .completed, "no permission errors in the worker's jobs")
        }
    }

    func testTheReportingRoleOnlyReads() async throws {
        let fixture = try PlatformFixture()
        let reporting = try PostgresConnection.connect(try await login("cleaning_reporting", fixture))
        _ = try reporting.query("SELECT count(*) FROM platform.orders")
        _ = try reporting.query("SELECT count(*) FROM queue.jobs")
        assertDenied("INSERT INTO queue.queues (name) VALUES ('x')", on: reporting)
        assertDenied("UPDATE platform.customers SET points_balance = 0", on: reporting)
    }
}
