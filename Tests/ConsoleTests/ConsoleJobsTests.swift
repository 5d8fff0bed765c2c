import Console
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import Synchronization
import XCTest

/// The jobs page and its actions as an operator uses them: filter by arguments,
/// page by keyset, act on selected or all matching jobs (with the count confirmed),
/// and find each action in the audit.
final class ConsoleJobsTests: XCTestCase {
    var fixture: ConsoleFixture!

    override func setUpWithError() throws {
        fixture = try ConsoleFixture(refreshInterval: .seconds(60))
    }

    override func tearDown() {
        fixture?.server.stop()
    }

    /// Job ids listed in a jobs page, in order.
    private func listedIDs(_ page: String) -> [Int64] {
        page.components(separatedBy: "<a href=\"/jobs/").dropFirst().compactMap { Int64($0.prefix { $0.isNumber }) }
    }

    func testArgumentFilterFindsTheJobByKeyValueOrJSON() throws {
        let queue = try fixture.insertJobs(30, state: "available")
        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        let byKey = try viewer.get("/jobs?queue=\(queue)&args=n%3D17")
        XCTAssertEqual(byKey.status, 200)
        let byJSON = try viewer.get("/jobs?queue=\(queue)&args=\(ConsoleClient.encode("{\"n\": 17}"))")
        let ids = listedIDs(byKey.body)
        XCTAssertEqual(ids.count, 1)
        XCTAssertEqual(listedIDs(byJSON.body), ids)
        let arguments = try TestDatabase.connect().query("SELECT args->>'n' FROM queue.jobs WHERE id = $1", [ids[0]]).scalar(String.self)
        XCTAssertEqual(arguments, "17")
    }

    func testPagesFollowByKeysetWithoutGapsOrRepeats() throws {
        let queue = try fixture.insertJobs(120, state: "scheduled")
        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        var seen: [Int64] = []
        var path = "/jobs?queue=\(queue)"
        while true {
            let page = try viewer.get(path).body
            seen += listedIDs(page)
            guard let range = page.range(of: "rel=\"next\" href=\"") else { break }
            path = String(page[range.upperBound...].prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
            XCTAssertTrue(path.contains("after="), path)
        }
        XCTAssertEqual(seen.count, 120)
        XCTAssertEqual(Set(seen).count, 120)
        XCTAssertEqual(seen, seen.sorted(by: >))
    }

    func testRetryAllMatchingShowsTheCountThenRetriesInBatchesAndIsAudited() throws {
        let queue = try fixture.insertJobs(7, state: "discarded")
        let untouched = try fixture.insertJobs(2, state: "discarded")
        let operatorClient = try fixture.client.loggedIn(fixture.operatorName, fixture.password)
        let token = try operatorClient.csrfToken()
        let filter = [("csrf", token), ("action", "retry"), ("scope", "matching"), ("queue", queue), ("state", "discarded")]
        let confirmation = try operatorClient.post("/jobs/action", form: filter)
        XCTAssertEqual(confirmation.status, 200)
        XCTAssertTrue(confirmation.body.contains("<strong id=\"match-count\">7</strong>"), confirmation.body)
        XCTAssertEqual(try fixture.states(queue), ["discarded": 7], "nothing happens before the confirmation")
        let confirmed = try operatorClient.post("/jobs/action", form: filter + [("confirmed", "yes")])
        XCTAssertEqual(confirmed.status, 303)
        XCTAssertEqual(confirmed.headers["location"], "/audit")
        let connection = try TestDatabase.connect()
        var audited: (String, Int64)? = nil
        for _ in 0..<100 where audited == nil {
            audited = try connection.query(
                "SELECT action, count FROM console.audit WHERE user_name = $1 AND target->>'queue' = $2", [fixture.operatorName, queue]
            ).first.map { try $0.decode((String, Int64).self) }
            if audited == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        XCTAssertEqual(audited?.0, "retry")
        XCTAssertEqual(audited?.1, 7)
        XCTAssertEqual(try fixture.states(queue), ["available": 7])
        XCTAssertEqual(try fixture.states(untouched), ["discarded": 2], "jobs outside the filter stay")
        let auditPage = try operatorClient.get("/audit").body
        XCTAssertTrue(auditPage.contains(fixture.operatorName) && auditPage.contains(queue), "the audit page lists it")
    }

    func testActionsOnSelectedJobsChangeOnlyThoseAndSkipIneligibleStates() throws {
        let queue = try fixture.insertJobs(5, state: "scheduled")
        let running = try fixture.insertJobs(1, state: "available")
        let operatorClient = try fixture.client.loggedIn(fixture.operatorName, fixture.password)
        let ids = try TestDatabase.connect().query("SELECT id FROM queue.jobs WHERE queue = $1 ORDER BY id LIMIT 2", [queue]).rows
            .map { String(try $0.decode(0, as: Int64.self)) }
        let availableID = try TestDatabase.connect().query("SELECT id FROM queue.jobs WHERE queue = $1", [running]).scalar(Int64.self)
        let form = [("csrf", try operatorClient.csrfToken()), ("action", "run_now"), ("scope", "selected")]
            + (ids + [String(availableID)]).map { ("id", $0) }
        XCTAssertEqual(try operatorClient.post("/jobs/action", form: form).status, 303)
        XCTAssertEqual(try fixture.states(queue), ["available": 2, "scheduled": 3])
        let count = try TestDatabase.connect().query(
            "SELECT count FROM console.audit WHERE user_name = $1 AND action = 'run_now'", [fixture.operatorName]
        ).scalar(Int64.self)
        XCTAssertEqual(count, 2, "the available job was not eligible and is not counted")
    }

    func testBulkActionsWorkInBoundedBatches() async throws {
        let queue = try fixture.insertJobs(11, state: "discarded")
        let administration = JobAdministration(database: fixture.database.pool(for: .operator))
        let totals = BatchTotals()
        let deleted = try await administration.apply(
            .delete, matching: JobFilter(queue: queue), batchSize: 4, progress: { totals.append($0) })
        XCTAssertEqual(deleted, 11)
        XCTAssertEqual(totals.values, [4, 8, 11], "three transactions of at most four jobs")
        XCTAssertEqual(try fixture.states(queue), [:])
    }

    func testViewersSeeMaskedArgumentsAndErrorsOperatorsSeeThemInFull() throws {
        let queue = try fixture.insertJobs(1, state: "discarded")
        let id = try TestDatabase.connect().query("SELECT id FROM queue.jobs WHERE queue = $1", [queue]).scalar(Int64.self)
        let viewerPage = try fixture.client.loggedIn(fixture.viewerName, fixture.password).get("/jobs/\(id)").body
        XCTAssertFalse(viewerPage.contains("13812345678"), "a viewer sees no phone number")
        XCTAssertTrue(viewerPage.contains("gateway refused 138****5678"), viewerPage)
        let operatorPage = try fixture.client.loggedIn(fixture.operatorName, fixture.password).get("/jobs/\(id)").body
        XCTAssertTrue(operatorPage.contains("13812345678"))
    }

    func testAnOperatorPausesAQueueAndSetsItsLimitAndBothAreAudited() throws {
        let queue = try fixture.insertJobs(1, state: "available")
        let operatorClient = try fixture.client.loggedIn(fixture.operatorName, fixture.password)
        let token = try operatorClient.csrfToken()
        XCTAssertEqual(try operatorClient.post("/queues/action", form: [("csrf", token), ("queue", queue), ("op", "pause")]).status, 303)
        XCTAssertEqual(
            try operatorClient.post("/queues/action", form: [("csrf", token), ("queue", queue), ("op", "limit"), ("value", "3")]).status, 303)
        let refused = try operatorClient.post("/queues/action", form: [("csrf", token), ("queue", queue), ("op", "limit"), ("value", "-1")])
        XCTAssertEqual(refused.status, 400)
        XCTAssertTrue(refused.body.contains("not a whole number from 1 to 1000000"), refused.body)
        let connection = try TestDatabase.connect()
        let (paused, limit) = try connection.query("SELECT paused, concurrency_limit::int8 FROM queue.queues WHERE name = $1", [queue])
            .first!.decode((Bool, Int64?).self)
        XCTAssertTrue(paused)
        XCTAssertEqual(limit, 3)
        let actions = try connection.query(
            "SELECT action FROM console.audit WHERE target->>'queue' = $1 ORDER BY id", [queue]
        ).rows.map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(actions, ["queue_pause", "queue_limit"])
        try connection.query("DELETE FROM queue.queues WHERE name = $1", [queue])
    }

    func testChineseBrowsersGetChinesePages() throws {
        var client = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        client.acceptLanguage = "zh-CN,zh;q=0.9,en;q=0.8"
        let page = try client.get("/jobs").body
        XCTAssertTrue(page.contains("<html lang=\"zh-CN\">"))
        XCTAssertTrue(page.contains("<h1>任务</h1>"), page)
        client.acceptLanguage = "en-US,en;q=0.9"
        XCTAssertTrue(try client.get("/jobs").body.contains("<h1>Jobs</h1>"))
    }

    func testEveryBrowserSharesOneOverviewSnapshotPerInterval() throws {
        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        let first = try viewer.get("/api/overview")
        XCTAssertEqual(first.status, 200)
        let etag = try XCTUnwrap(first.headers["etag"])
        let other = try fixture.client.loggedIn(fixture.operatorName, fixture.password)
        for _ in 0..<10 {
            XCTAssertEqual(try other.get("/api/overview").body, first.body, "the same snapshot, not a new read")
        }
        let conditional = try viewer.get("/api/overview", headers: ["If-None-Match": etag])
        XCTAssertEqual(conditional.status, 304)
        XCTAssertTrue(conditional.body.isEmpty)
    }
}

/// Running totals reported by a bulk action.
private final class BatchTotals: Sendable {
    private let storage = Mutex<[Int]>([])
    func append(_ value: Int) { storage.withLock { $0.append(value) } }
    var values: [Int] { storage.withLock { $0 } }
}
