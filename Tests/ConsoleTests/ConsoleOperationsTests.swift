import Console
import Foundation
import PostgresClient
import TestSupport
import XCTest

/// The console's pages beyond jobs and queues, as operators and finance use them:
/// periodic jobs run now, disabled and enabled (each audited, each refused without
/// the role or the token); the worker processes on the overview, idle ones too;
/// workflows and batches with their progress and jobs; statistics by business day;
/// payout runs' live progress and the retry of a failed transfer (finance only).
final class ConsoleOperationsTests: XCTestCase {
    var fixture: ConsoleFixture!

    override func setUpWithError() throws {
        fixture = try ConsoleFixture(refreshInterval: .seconds(60))
    }

    override func tearDown() {
        fixture?.server.stop()
    }

    /// A periodic job's row as the leader registers it; returns its name.
    private func schedule() throws -> String {
        let name = TestDatabase.uniqueName("console-cron")
        try TestDatabase.connect().query(
            """
            INSERT INTO queue.cron_schedules (name, expression, time_zone, kind, queue, next_fire_at)
            VALUES ($1, '*/5 * * * *', 'Asia/Shanghai', 'console.cron', $1, now() + interval '5 minutes')
            """, [name])
        return name
    }

    private func scheduleState(_ name: String) throws -> (enabled: Bool, runRequested: Bool) {
        try TestDatabase.connect().query(
            "SELECT enabled, run_requested_at IS NOT NULL FROM queue.cron_schedules WHERE name = $1", [name]
        ).first!.decode((Bool, Bool).self)
    }

    /// The audited actions whose target has `key` = `value`, oldest first.
    private func audited(_ key: String, _ value: String) throws -> [String] {
        try TestDatabase.connect().query(
            "SELECT action FROM console.audit WHERE target->>$1 = $2 ORDER BY id", [key, value]
        ).rows.map { try $0.decode(0, as: String.self) }
    }

    func testAnOperatorRunsDisablesAndEnablesAPeriodicJobAndEachIsAudited() throws {
        let name = try schedule()
        let operatorClient = try fixture.client.loggedIn(fixture.operatorName, fixture.password)
        let page = try operatorClient.get("/cron")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.body.contains(name), "the schedule is listed")
        let token = try operatorClient.csrfToken()
        for (operation, expected) in [("disable", (false, false)), ("run", (false, true)), ("enable", (true, true))] {
            let response = try operatorClient.post("/cron/action", form: [("csrf", token), ("name", name), ("op", operation)])
            XCTAssertEqual(response.status, 303, operation)
            let state = try scheduleState(name)
            XCTAssertEqual(state.enabled, expected.0, operation)
            XCTAssertEqual(state.runRequested, expected.1, operation)
        }
        XCTAssertEqual(try audited("schedule", name), ["cron_disable", "cron_run", "cron_enable"])
        XCTAssertTrue(try operatorClient.get("/cron").body.contains("Run requested"), "the waiting request is shown")
        let unknown = try operatorClient.post("/cron/action", form: [("csrf", token), ("name", name + "-none"), ("op", "run")])
        XCTAssertEqual(unknown.status, 404)
        let badOperation = try operatorClient.post("/cron/action", form: [("csrf", token), ("name", name), ("op", "explode")])
        XCTAssertEqual(badOperation.status, 400)
    }

    func testCronActionsNeedTheOperatorRoleAndTheToken() throws {
        let name = try schedule()
        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        XCTAssertFalse(try viewer.get("/cron").body.contains("/cron/action"), "a viewer gets no action buttons")
        let refused = try viewer.post("/cron/action", form: [("csrf", try viewer.csrfToken()), ("name", name), ("op", "disable")])
        XCTAssertEqual(refused.status, 403)
        XCTAssertTrue(refused.body.contains("needs the operator role"), refused.body)
        let operatorClient = try fixture.client.loggedIn(fixture.operatorName, fixture.password)
        XCTAssertEqual(try operatorClient.post("/cron/action", form: [("name", name), ("op", "run")]).status, 403, "no token")
        XCTAssertEqual(try fixture.client.post("/cron/action", form: [("name", name), ("op", "run")]).status, 401, "no session")
        let state = try scheduleState(name)
        XCTAssertTrue(state.enabled)
        XCTAssertFalse(state.runRequested)
        XCTAssertEqual(try audited("schedule", name), [])
    }

    func testTheOverviewListsAnIdleWorkerWithItsProcessAndQueues() throws {
        let id = TestDatabase.uniqueName("idle-worker")
        let connection = try TestDatabase.connect()
        try connection.query(
            """
            INSERT INTO queue.workers (id, host, pid, queues, slots, expires_at)
            VALUES ($1, 'host-7', 4711, ARRAY['mail', 'payouts'], ARRAY[4, 1], now() + interval '1 minute')
            """, [id])
        defer { _ = try? connection.query("DELETE FROM queue.workers WHERE id = $1", [id]) }
        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        let page = try viewer.get("/").body
        let row = try XCTUnwrap(page.components(separatedBy: "<tr>").first { $0.contains(id) }, "the idle worker is listed")
        XCTAssertTrue(row.contains("host-7 (4711)"), row)
        XCTAssertTrue(row.contains("mail, payouts"), row)
    }

    /// A queue that deletes its completed jobs has no rows to count them by: the
    /// overview says so instead of a "Done/min" of 0 (which the live refresh would keep).
    func testTheOverviewMarksAQueueThatDeletesItsCompletedJobs() throws {
        let queue = TestDatabase.uniqueName("deleting")
        let connection = try TestDatabase.connect()
        try connection.query("INSERT INTO queue.queues (name, keep_completed) VALUES ($1, false)", [queue])
        defer { _ = try? connection.query("DELETE FROM queue.queues WHERE name = $1", [queue]) }
        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        let page = try viewer.get("/").body
        let row = try XCTUnwrap(page.components(separatedBy: "<tr>").first { $0.contains(">\(queue)</a>") }, "listed")
        XCTAssertTrue(row.contains("Completed jobs are deleted in this queue"), row)
        XCTAssertFalse(row.contains("\(queue)|completedLastMinute"), "no live completion count: \(row)")
        XCTAssertTrue(row.contains("\(queue)|waiting"), "the other numbers stay live: \(row)")
    }

    func testWorkflowAndBatchPagesShowProgressAndTheirJobs() throws {
        let queue = TestDatabase.uniqueName("flows")
        let batch = TestDatabase.uniqueName("batch")
        let connection = try TestDatabase.connect()
        let insert = """
            INSERT INTO queue.jobs (kind, queue, args, state, depends_on, batch_id, callback_for_batch, finalized_at)
            VALUES ($1, $2, '{}', $3, $4, $5, $6, CASE WHEN $3 IN ('completed', 'discarded') THEN now() END) RETURNING id
            """
        func job(_ kind: String, _ state: String, dependsOn: [Int64] = [], batch: String? = nil, callback: String? = nil) throws -> Int64 {
            try connection.query(insert, [kind, queue, state, dependsOn, batch, callback]).scalar(Int64.self)
        }
        let first = try job("flow.first", "completed")
        let second = try job("flow.second", "available", dependsOn: [first])
        let third = try job("flow.third", "pending", dependsOn: [first, second])
        for state in ["completed", "completed", "discarded"] { _ = try job("batch.member", state, batch: batch) }
        let callback = try job("batch.done", "pending", callback: batch)

        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        let list = try viewer.get("/workflows")
        XCTAssertEqual(list.status, 200)
        let workflowRow = try XCTUnwrap(
            list.body.components(separatedBy: "<tr>").first { $0.contains("href=\"/workflows/\(first)\"") }, "the workflow is listed")
        XCTAssertTrue(workflowRow.contains("1/3"), "one of three jobs finished: \(workflowRow)")
        XCTAssertTrue(workflowRow.contains("flow.first"), workflowRow)
        let batchRow = try XCTUnwrap(
            list.body.components(separatedBy: "<tr>").first { $0.contains(">\(batch)</a>") }, "the batch is listed")
        XCTAssertTrue(batchRow.contains("3/3"), batchRow)
        XCTAssertTrue(batchRow.contains("discarded 1"), batchRow)

        let workflow = try viewer.get("/workflows/\(first)")
        XCTAssertEqual(workflow.status, 200)
        for id in [first, second, third] { XCTAssertTrue(workflow.body.contains("href=\"/jobs/\(id)\""), "job \(id) is a member") }
        let thirdRow = try XCTUnwrap(workflow.body.components(separatedBy: "<tr>").first { $0.contains(">\(third)</a></td>") })
        XCTAssertTrue(thirdRow.contains("<a href=\"/jobs/\(second)\">\(second)</a>"), "its dependencies are shown: \(thirdRow)")
        let batchPage = try viewer.get("/batches?id=\(ConsoleClient.encode(batch))")
        XCTAssertEqual(batchPage.status, 200)
        XCTAssertTrue(batchPage.body.contains("href=\"/jobs/\(callback)\""), "the callback is listed with the batch")
        XCTAssertTrue(batchPage.body.contains("3/4"), "three of four finished")
        XCTAssertEqual(try viewer.get("/batches?id=no-such-\(batch)").status, 404)
    }

    func testStatisticsShowEachBusinessDayAndNameTheZone() throws {
        let city = TestDatabase.uniqueName("city")
        try TestDatabase.connect().query(
            """
            INSERT INTO platform.order_statistics_daily (day, city, district, service_type_id, channel, orders_placed,
                orders_completed, orders_cancelled, gmv_fen, paid_fen, refunded_fen)
            SELECT '1999-03-02', $1, NULL, min(id), 'app', 7, 5, 1, 123456, 120000, 0 FROM platform.service_types
            """, [city])
        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        let page = try viewer.get("/statistics?from=1999-03-01&to=1999-03-03")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.body.contains("Asia/Shanghai"), "the zone of the days is named")
        let rows = page.body.components(separatedBy: "<tr><th data-label=\"Day\">").dropFirst().map { $0.prefix(10) }
        XCTAssertEqual(rows, ["1999-03-03", "1999-03-02", "1999-03-01"], "every day, newest first, empty ones too")
        let day = try XCTUnwrap(page.body.components(separatedBy: "<tr>").first { $0.contains("1999-03-02") })
        XCTAssertTrue(day.contains("¥1234.56"), "GMV in yuan: \(day)")
        XCTAssertEqual(try viewer.get("/statistics?from=1999-02-30").status, 400)
        XCTAssertEqual(try viewer.get("/statistics?from=1999-03-03&to=1999-03-01").status, 400)
        XCTAssertEqual(try viewer.get("/statistics?from=1999-01-01&to=1999-12-31").status, 400, "too long a range")
    }

    func testPayoutProgressIsSharedAndConditionalAndRetryingATransferNeedsFinance() throws {
        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        let live = try viewer.get("/api/payouts")
        XCTAssertEqual(live.status, 200)
        XCTAssertTrue(live.body.contains("\"runs\""), live.body)
        let etag = try XCTUnwrap(live.headers["etag"])
        XCTAssertEqual(try viewer.get("/api/payouts", headers: ["If-None-Match": etag]).status, 304)
        XCTAssertEqual(try fixture.client.get("/api/payouts").status, 303, "no session")

        let form = [("run", "999999999"), ("cleaner", "1")]
        let operatorClient = try fixture.client.loggedIn(fixture.operatorName, fixture.password)
        let refused = try operatorClient.post("/payouts/retry", form: form + [("csrf", try operatorClient.csrfToken())])
        XCTAssertEqual(refused.status, 403)
        XCTAssertTrue(refused.body.contains("needs the finance role"), refused.body)
        let finance = try fixture.client.loggedIn(fixture.financeName, fixture.password)
        XCTAssertEqual(try finance.post("/payouts/retry", form: form).status, 403, "no token")
        let nothingToRetry = try finance.post("/payouts/retry", form: form + [("csrf", try finance.csrfToken())])
        XCTAssertEqual(nothingToRetry.status, 409)
        XCTAssertTrue(nothingToRetry.body.contains("no failed transfer"), nothingToRetry.body)
        XCTAssertEqual(try audited("run", "999999999"), [])
    }
}
