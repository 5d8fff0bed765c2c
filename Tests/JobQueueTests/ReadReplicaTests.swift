import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Reads off the primary: a real streaming standby of the test cluster, started on
/// loopback (`devdb.sh standby`), serves jobsctl's read-only commands when
/// `--read-url` or `DATABASE_READ_URL` names it, refuses writes, and writes keep
/// going to the primary.
final class ReadReplicaTests: XCTestCase {
    func testReadCommandsAreServedByTheStandbyAndWritesStayOnThePrimary() async throws {
        let fixture = try QueueFixture()
        let name = "reads" + TestDatabase.uniqueName("").dropFirst()
        let standbyURL = try await TestDatabase.devdb(["standby", name])
        addTeardownBlock { _ = try? await TestDatabase.devdb(["drop-standby", name]) }
        let standby = try PostgresConnection.connect(PostgresConfiguration(conninfo: standbyURL, applicationName: "tests"))

        let replicated = try await fixture.client.enqueue(fixture.request("test.replica")).id
        try await waitUntilStandbySees(replicated, standby)
        let recovery = try standby.query("SELECT pg_is_in_recovery()").rows.first?.decode(0, as: Bool.self)
        XCTAssertEqual(recovery, true, "the read connection is a standby")

        // Replay paused: a job enqueued on the primary now is not on the standby, so
        // what a command lists tells which server answered it.
        try standby.executeScript("SELECT pg_wal_replay_pause()")
        let primaryOnly = try await fixture.client.enqueue(fixture.request("test.replica")).id

        let viaOption = try await JobsctlRun.run(
            ["jobs", "list", "--queue", fixture.queue, "--json", "--read-url", standbyURL])
        XCTAssertEqual(viaOption.status, 0, viaOption.output)
        XCTAssertEqual(try ids(viaOption), [replicated])
        let viaEnvironment = try await JobsctlRun.run(
            ["jobs", "list", "--queue", fixture.queue, "--json"], environment: ["DATABASE_READ_URL": standbyURL])
        XCTAssertEqual(try ids(viaEnvironment), [replicated])
        let fromPrimary = try await JobsctlRun.run(["jobs", "list", "--queue", fixture.queue, "--json"])
        XCTAssertEqual(try ids(fromPrimary), [primaryOnly, replicated])
        let shown = try await JobsctlRun.run(["jobs", "show", "\(primaryOnly)"], environment: ["DATABASE_READ_URL": standbyURL])
        XCTAssertNotEqual(shown.status, 0, "the standby has not replayed job \(primaryOnly): \(shown.output)")

        // Stats say they come from a standby and how far it trails.
        let stats = try await JobsctlRun.run(["stats"], environment: ["DATABASE_READ_URL": standbyURL])
        XCTAssertEqual(stats.status, 0, stats.output)
        XCTAssertTrue(stats.output.hasPrefix("read from a hot standby: replay lag "), stats.output)
        let primaryStats = try await JobsctlRun.run(["stats"])
        XCTAssertFalse(primaryStats.output.contains("hot standby"), primaryStats.output)

        // A write never goes to the read URL: cancelling works (on the primary) …
        let cancel = try await JobsctlRun.run(
            ["jobs", "cancel", "\(primaryOnly)"], environment: ["DATABASE_READ_URL": standbyURL])
        XCTAssertEqual(cancel.status, 0, cancel.output)
        let cancelled = try await fixture.row(primaryOnly).state
        XCTAssertEqual(cancelled, "cancelled")
        // … and the standby itself refuses one.
        XCTAssertThrowsError(
            try standby.execute("UPDATE queue.jobs SET priority = 1 WHERE id = $1", [replicated])
        ) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "25006", "\(error)")  // read_only_sql_transaction
        }
        try standby.executeScript("SELECT pg_wal_replay_resume()")
    }

    private func ids(_ run: JobsctlRun) throws -> [Int64] {
        let jobs = try XCTUnwrap(run.json() as? [[String: Any]], run.output)
        return jobs.compactMap { ($0["id"] as? NSNumber)?.int64Value }
    }

    private func waitUntilStandbySees(_ id: Int64, _ standby: PostgresConnection) async throws {
        for _ in 0..<300 {
            if try standby.query("SELECT 1 FROM queue.jobs WHERE id = $1", [id]).rows.first != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("the standby did not replay job \(id) within 15 s")
    }
}
