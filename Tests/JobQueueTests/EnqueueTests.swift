import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

final class EnqueueTests: XCTestCase {
    func testTypedJobIsStoredWithItsFields() async throws {
        let fixture = try QueueFixture()
        let later = Date().addingTimeInterval(3600)
        let request = try JobRequest(
            Payload(number: 7, label: "家电清洗 \"quoted\""), queue: fixture.queue, priority: 3, runAt: later,
            maxAttempts: 4, tags: ["a", "b c"], uniqueKey: "payload-\(fixture.queue)")
        let result = try await fixture.client.enqueue(request)
        XCTAssertTrue(result.inserted)
        let row = try await fixture.pool.query(
            """
            SELECT kind, queue, args->>'label', (args->>'number')::int8, priority::int8, state, max_attempts::int8,
                   tags, unique_key, run_at
            FROM queue.jobs WHERE id = $1
            """, [result.id]
        ).first!
        XCTAssertEqual(try row.decode(0, as: String.self), "test.payload")
        XCTAssertEqual(try row.decode(1, as: String.self), fixture.queue)
        XCTAssertEqual(try row.decode(2, as: String.self), "家电清洗 \"quoted\"")
        XCTAssertEqual(try row.decode(3, as: Int64.self), 7)
        XCTAssertEqual(try row.decode(4, as: Int64.self), 3)
        XCTAssertEqual(try row.decode(5, as: String.self), "scheduled", "a future run-at waits as scheduled")
        XCTAssertEqual(try row.decode(6, as: Int64.self), 4)
        XCTAssertEqual(try row.decode(7, as: [String].self), ["a", "b c"])
        XCTAssertEqual(try row.decode(8, as: String.self), "payload-\(fixture.queue)")
        XCTAssertEqual(try row.decode(9, as: Date.self).timeIntervalSince1970, later.timeIntervalSince1970, accuracy: 0.001)
    }

    /// A single job goes through its own statement; a list through the array one.
    /// Both must store the same row for the same request.
    func testSingleAndBulkEnqueueStoreTheSameRow() async throws {
        let fixture = try QueueFixture()
        let parent = try await fixture.client.enqueue(fixture.request("test.parent")).id
        func request(_ key: String) throws -> JobRequest {
            var request = try JobRequest(
                Payload(number: 1, label: "x"), queue: fixture.queue, priority: 9, runAt: Date().addingTimeInterval(60),
                maxAttempts: 2, tags: ["t1"], uniqueKey: "\(key)-\(fixture.queue)")
            request.deadline = Date().addingTimeInterval(600)
            request.dependsOn = [parent]
            request.batchID = "batch-\(fixture.queue)"
            return request
        }
        let single = try await fixture.client.enqueue(try request("single")).id
        let bulk = try await fixture.client.enqueue([try request("bulk"), fixture.request("test.other")])[0].id
        let columns = """
            kind, queue, args::text, priority::int8, state, max_attempts::int8, tags, unique_scope,
            round(extract(epoch FROM deadline_at - created_at))::int8, round(extract(epoch FROM run_at - created_at))::int8,
            depends_on, batch_id, coalesce(callback_for_batch, '-')
            """
        let rows = try await fixture.pool.query(
            "SELECT id, \(columns) FROM queue.jobs WHERE id = ANY($1) ORDER BY id", [[single, bulk]]
        ).rows.map { row in
            (try row.decode(1, as: String.self), try row.decode(2, as: String.self), try row.decode(3, as: String.self),
             try row.decode(4, as: Int64.self), try row.decode(5, as: String.self), try row.decode(6, as: Int64.self),
             try row.decode(7, as: [String].self), try row.decode(8, as: String.self), try row.decode(9, as: Int64.self),
             try row.decode(10, as: Int64.self), try row.decode(11, as: [Int64].self), try row.decode(12, as: String.self),
             try row.decode(13, as: String.self))
        }
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual("\(rows[0])", "\(rows[1])")
        XCTAssertEqual(rows[0].4, "pending", "a job with dependencies waits for them")
        XCTAssertEqual(rows[0].10, [parent])
    }

    func testCancellingWaitingJobsByTagLeavesOthers() async throws {
        let fixture = try QueueFixture()
        let tag = "order-\(fixture.queue)"
        var tagged = fixture.request("test.reminder")
        tagged.tags = [tag, "reminders"]
        let waiting = try await fixture.client.enqueue([tagged, tagged]).map(\.id)
        let untagged = try await fixture.client.enqueue(fixture.request("test.reminder")).id
        var other = fixture.request("test.reminder")
        other.tags = ["order-other-\(fixture.queue)"]
        let otherID = try await fixture.client.enqueue(other).id
        let cancelled = try await fixture.pool.withConnection { try $0.cancelWaitingJobs(tagged: tag, reason: "rescheduled") }
        XCTAssertEqual(cancelled, 2)
        for id in waiting { let state = try await fixture.row(id).state; XCTAssertEqual(state, "cancelled") }
        for id in [untagged, otherID] { let state = try await fixture.row(id).state; XCTAssertEqual(state, "available") }
        let entry = try await fixture.row(waiting[0]).errors
        XCTAssertEqual(entry, ["cancelled: rescheduled"])
    }

    /// The function's statement reads the partial GIN index on tags (its scan count
    /// grows), even on a connection where a table scan is off the table. (One server:
    /// on a Citus coordinator the shards' indexes are on the worker nodes.)
    func testCancellingWaitingJobsByTagUsesTheTagIndex() async throws {
        let fixture = try QueueFixture()
        let connection = try TestDatabase.connect()
        try connection.executeScript("SET enable_seqscan = off; SET stats_fetch_consistency = none")
        let scans = "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'jobs_waiting_tags_idx'"
        let before = try connection.query(scans).scalar(Int64.self)
        XCTAssertEqual(try connection.cancelWaitingJobs(tagged: "order-none-\(fixture.queue)", reason: "x"), 0)
        _ = try connection.query("SELECT pg_stat_force_next_flush()")
        let after = try connection.query(scans).scalar(Int64.self)
        XCTAssertGreaterThan(after, before, "queue.cancel_waiting_jobs scanned jobs_waiting_tags_idx")
    }

    func testBulkEnqueueOfTwelveThousandInOneCallKeepsOrder() async throws {
        let fixture = try QueueFixture()
        let requests = (0..<12_000).map { fixture.request("test.bulk", "{\"n\": \($0)}") }
        let results = try await fixture.client.enqueue(requests)
        XCTAssertEqual(results.count, 12_000)
        XCTAssertTrue(results.allSatisfy(\.inserted))
        // Result i is the job made from request i.
        let check = try await fixture.pool.query(
            "SELECT id, (args->>'n')::int8 FROM queue.jobs WHERE id = ANY($1::int8[])",
            [[results[0].id, results[5_000].id, results[11_999].id]])
        var numberByID: [Int64: Int64] = [:]
        for row in check.rows {
            let (id, number) = try row.decode((Int64, Int64).self)
            numberByID[id] = number
        }
        XCTAssertEqual(numberByID[results[0].id], 0)
        XCTAssertEqual(numberByID[results[5_000].id], 5_000)
        XCTAssertEqual(numberByID[results[11_999].id], 11_999)
        let counts = try await fixture.counts()
        XCTAssertEqual(counts["available"], 12_000)
    }

    /// A batch of jobs that cannot conflict or wait on others (the lean bulk statement):
    /// scheduled work wakes nobody, a batch with runnable work sends one notification
    /// at commit, and each result is its own request's job. (That every path stores the
    /// same row: SQLEnqueueTests.testEveryPathStoresTheSameRowForTheSameRequest.)
    func testBulkEnqueueWakesWorkersOnlyForRunnableJobs() async throws {
        let fixture = try QueueFixture()
        let later = Date().addingTimeInterval(3_600)
        let listener = try TestDatabase.connect()
        try listener.listen(JobChannel.name)

        let scheduled = try await fixture.client.enqueue(
            (0..<3).map { fixture.request("test.lean", "{\"n\": \($0)}", runAt: later) })
        XCTAssertEqual(
            try listener.waitForNotifications(timeout: .milliseconds(300)), [], "scheduled work wakes nobody yet")

        let mixed = try await fixture.client.enqueue(
            (3..<6).map { fixture.request("test.lean", "{\"n\": \($0)}", runAt: $0 == 4 ? later : nil) })
        XCTAssertEqual(
            try listener.waitForNotifications(timeout: .seconds(5)).map(\.payload), [fixture.queue],
            "one notification for the batch's runnable jobs")
        XCTAssertEqual(try listener.waitForNotifications(timeout: .milliseconds(200)), [])

        let ids = (scheduled + mixed).map(\.id)
        let stored = try await fixture.pool.query(
            "SELECT id, (args->>'n')::int8, state FROM queue.jobs WHERE id = ANY($1) ORDER BY id", [ids])
        let rows = try stored.rows.map { try $0.decode((Int64, Int64, String).self) }
        let described = rows.map { "\($0.0): n=\($0.1) \($0.2)" }
        XCTAssertTrue((scheduled + mixed).allSatisfy(\.inserted))
        XCTAssertEqual(rows.map(\.0), ids, "results in request order, one job each: \(described)")
        XCTAssertEqual(rows.map(\.1), Array(0..<6), "\(described)")
        XCTAssertEqual(
            rows.map(\.2), ["scheduled", "scheduled", "scheduled", "available", "scheduled", "available"],
            "\(described)")
    }

    /// The lean bulk statement sends a column that no request of the batch sets as one
    /// NULL array, and `{}` arguments as NULL: a batch mixing requests with and without
    /// each optional value stores every request's own values, in request order, and a
    /// batch setting none stores the defaults.
    func testBulkEnqueueMixingSetAndUnsetColumnsStoresEachRequestsOwnValues() async throws {
        let fixture = try QueueFixture()
        let later = Date().addingTimeInterval(3_600)
        var full = fixture.request("test.mixed", #"{"n": 1}"#, runAt: later)
        full.tags = ["order:1", "order:1:timed"]
        full.deadline = later.addingTimeInterval(600)
        var tagged = fixture.request("test.mixed", #"{"n": 3}"#)
        tagged.tags = ["order:3"]
        let mixed = [fixture.request("test.mixed"), full, fixture.request("test.mixed"), tagged]
        let plain = [fixture.request("test.plain"), fixture.request("test.plain")]

        let results = try await fixture.client.enqueue(mixed) + fixture.client.enqueue(plain)

        let stored = try await fixture.pool.query(
            """
            SELECT id, kind, args::text, state, tags, deadline_at IS NOT NULL, run_at > created_at + interval '1 minute'
            FROM queue.jobs WHERE id = ANY($1) ORDER BY id
            """, [results.map(\.id)])
        let rows = try stored.rows.map { row in
            try [
                "\(row.decode(0, as: Int64.self))", row.decode(1, as: String.self), row.decode(2, as: String.self),
                row.decode(3, as: String.self), "\(row.decode(4, as: [String].self))",
                "deadline \(row.decode(5, as: Bool.self))", "later \(row.decode(6, as: Bool.self))",
            ].joined(separator: " | ")
        }
        XCTAssertEqual(
            rows,
            zip(results.map(\.id), [
                "test.mixed | {} | available | [] | deadline false | later false",
                #"test.mixed | {"n": 1} | scheduled | ["order:1", "order:1:timed"] | deadline true | later true"#,
                "test.mixed | {} | available | [] | deadline false | later false",
                #"test.mixed | {"n": 3} | available | ["order:3"] | deadline false | later false"#,
                "test.plain | {} | available | [] | deadline false | later false",
                "test.plain | {} | available | [] | deadline false | later false",
            ]).map { "\($0) | \($1)" },
            "one row per request, ids in request order, each with its own values")
    }

    /// A value every request of a batch shares is sent once (`BatchColumn`); every row
    /// must still get it, and a batch whose requests share a value up to the last one
    /// must give the last its own — for each column the bulk insert takes.
    func testBulkEnqueueStoresSharedAndLastDifferingValuesInEveryColumn() async throws {
        let fixture = try QueueFixture()
        let otherQueue = fixture.queue + "-b"
        // A Citus cluster refuses batches (workflows): there the batch column stays unset.
        let batch = try TestDatabase.isCitus ? nil : "batch-\(fixture.queue)"
        func shared() -> JobRequest {
            JobRequest(
                kind: "test.shared", argumentsJSON: #"{"n": 7}"#, queue: fixture.queue, priority: 3,
                runAt: Date().addingTimeInterval(3_600), maxAttempts: 7, tags: ["campaign:1", "wave:1"],
                uniqueScope: .always, deadline: Date().addingTimeInterval(7_200), batchID: batch)
        }
        let last = JobRequest(kind: "test.last", queue: otherQueue, maxAttempts: 8)
        let results = try await fixture.client.enqueue([shared(), shared(), shared()])
            + fixture.client.enqueue([shared(), shared(), last])

        let stored = try await fixture.pool.query(
            """
            SELECT kind, queue, args::text, priority::int8, state, max_attempts::int8, tags, unique_scope,
                   round(extract(epoch FROM run_at - created_at) / 60)::int8,
                   coalesce(round(extract(epoch FROM deadline_at - created_at) / 60)::int8, -1),
                   coalesce(batch_id, '-')
            FROM queue.jobs WHERE id = ANY($1) ORDER BY id
            """, [results.map(\.id)])
        let rows = try stored.rows.map { row in
            try [
                row.decode(0, as: String.self), row.decode(1, as: String.self), row.decode(2, as: String.self),
                "\(row.decode(3, as: Int64.self))", row.decode(4, as: String.self), "\(row.decode(5, as: Int64.self))",
                "\(row.decode(6, as: [String].self))", row.decode(7, as: String.self),
                "run in \(row.decode(8, as: Int64.self)) min", "deadline in \(row.decode(9, as: Int64.self)) min",
                row.decode(10, as: String.self),
            ].joined(separator: " | ")
        }
        let sharedRow = #"test.shared | \#(fixture.queue) | {"n": 7} | 3 | scheduled | 7 | ["campaign:1", "wave:1"] | always | run in 60 min | deadline in 120 min | \#(batch ?? "-")"#
        XCTAssertEqual(
            rows,
            Array(repeating: sharedRow, count: 5)
                + ["test.last | \(otherQueue) | {} | 0 | available | 8 | [] | active | run in 0 min | deadline in -1 min | -"],
            "every job of both batches stored with its request's values, in request order")
    }

    /// Migration 0040: each connection draws job ids from its own block of 1 000, so
    /// its batches stay contiguous while another connection enqueues in between, and
    /// the other connection's ids come from a later block.
    func testEachConnectionDrawsJobIdsFromItsOwnBlock() async throws {
        let fixture = try QueueFixture()
        if try TestDatabase.isCitus { throw XCTSkip("on Citus the id sequence keeps Citus's own ranges (0040)") }
        let first = try TestDatabase.connect()
        let second = try TestDatabase.connect()
        let batch = { (0..<3).map { _ in fixture.request("test.block") } }

        let before = try first.enqueue(batch()).map(\.id)
        let between = try second.enqueue(batch()).map(\.id)
        let after = try first.enqueue(batch()).map(\.id)

        let firsts = before + after
        XCTAssertEqual(firsts, Array(firsts[0]..<(firsts[0] + 6)), "one connection's ids are contiguous: \(firsts)")
        XCTAssertEqual(between, Array(between[0]..<(between[0] + 3)))
        XCTAssertGreaterThanOrEqual(between[0], firsts[0] + 1_000, "the other connection's block comes after: \(between)")
    }

    /// A single plain job (no unique key, dependencies or batch callback) takes the
    /// one-row insert: the returned id is its row, an available job wakes its queue
    /// once when the insert commits, a scheduled one wakes nobody.
    func testSinglePlainJobIsItsOwnRowAndWakesItsQueueOnlyWhenAvailable() async throws {
        let fixture = try QueueFixture()
        let listener = try TestDatabase.connect()
        try listener.listen(JobChannel.name)
        let enqueuer = try TestDatabase.connect()
        var scheduledRequest = fixture.request("test.single", #"{"n": 2}"#, runAt: Date().addingTimeInterval(600))
        scheduledRequest.tags = ["single"]
        scheduledRequest.deadline = Date().addingTimeInterval(900)

        let scheduled = try enqueuer.enqueue(scheduledRequest)
        XCTAssertEqual(
            try listener.waitForNotifications(timeout: .milliseconds(300)), [], "scheduled work wakes nobody yet")
        let available = try enqueuer.enqueue(fixture.request("test.single", #"{"n": 1}"#))
        XCTAssertEqual(
            try listener.waitForNotifications(timeout: .seconds(5)).map(\.payload), [fixture.queue],
            "one notification for the available job, after its commit")
        XCTAssertEqual(try listener.waitForNotifications(timeout: .milliseconds(200)), [])

        let stored = try enqueuer.query(
            """
            SELECT id, (args->>'n')::int8, state, tags, deadline_at IS NOT NULL
            FROM queue.jobs WHERE id = ANY($1) ORDER BY id
            """,
            [[scheduled.id, available.id]]
        ).rows.map { row in
            try "\(row.decode(0, as: Int64.self)) n=\(row.decode(1, as: Int64.self)) \(row.decode(2, as: String.self)) "
                + "\(row.decode(3, as: [String].self)) deadline \(row.decode(4, as: Bool.self))"
        }
        XCTAssertTrue(scheduled.inserted && available.inserted)
        XCTAssertEqual(
            stored,
            [
                "\(scheduled.id) n=2 scheduled [\"single\"] deadline true",
                "\(available.id) n=1 available [] deadline false",
            ])
    }

    func testEnqueueInsideARolledBackTransactionLeavesNoJob() async throws {
        let fixture = try QueueFixture()
        struct BusinessRuleBroken: Error {}
        let request = fixture.request("test.tx")
        do {
            try await fixture.pool.withTransaction { connection in
                try connection.enqueue(request)
                throw BusinessRuleBroken()
            }
            XCTFail("the transaction should have thrown")
        } catch is BusinessRuleBroken {}
        let countsAfterRollback = try await fixture.counts()
        XCTAssertEqual(countsAfterRollback, [:])

        _ = try await fixture.pool.withTransaction { connection in
            try connection.enqueue(request)
        }
        let countsAfterCommit = try await fixture.counts()
        XCTAssertEqual(countsAfterCommit, ["available": 1])
    }

    func testNotifyIsSentAtCommitOncePerQueue() async throws {
        let fixture = try QueueFixture()
        let listener = try TestDatabase.connect()
        try listener.listen(JobChannel.name)
        let enqueuer = try TestDatabase.connect()
        try enqueuer.withTransaction { connection in
            _ = try connection.enqueue((0..<50).map { _ in fixture.request("test.notify") })
            XCTAssertEqual(try listener.waitForNotifications(timeout: .milliseconds(200)), [], "nothing before commit")
        }
        let received = try listener.waitForNotifications(timeout: .seconds(5))
        XCTAssertEqual(received.map(\.payload), [fixture.queue], "one notification for 50 jobs")
        XCTAssertEqual(try listener.waitForNotifications(timeout: .milliseconds(200)), [])

        _ = try enqueuer.enqueue(fixture.request("test.notify", runAt: Date().addingTimeInterval(600)))
        XCTAssertEqual(
            try listener.waitForNotifications(timeout: .milliseconds(300)), [], "scheduled work wakes nobody yet")

        // A single plain job (the lean insert, not the SQL function) wakes its queue at commit too.
        try enqueuer.withTransaction { connection in
            _ = try connection.enqueue(fixture.request("test.notify"))
            XCTAssertEqual(try listener.waitForNotifications(timeout: .milliseconds(200)), [], "nothing before commit")
        }
        XCTAssertEqual(
            try listener.waitForNotifications(timeout: .seconds(5)).map(\.payload), [fixture.queue],
            "one notification for a single available job")
    }

    /// Outside a transaction a batch commits without a NOTIFY and then announces each
    /// queue that got runnable work, once, in a statement of its own
    /// (`JobChannel.announce`), before the call returns: a LISTENing connection hears
    /// each such queue once, never the queue that got only scheduled work, and finds
    /// the queue's jobs committed when it does.
    func testAutocommitBulkEnqueueAnnouncesEachRunnableQueueOnceAfterItsCommit() async throws {
        let fixture = try QueueFixture()
        let other = fixture.queue + "-b"
        let scheduledOnly = fixture.queue + "-c"
        let listener = try TestDatabase.connect()
        try listener.listen(JobChannel.name)
        var requests = (0..<30).map { n in
            var request = fixture.request("test.announce", "{\"n\": \(n)}")
            request.queue = n.isMultiple(of: 2) ? fixture.queue : other
            return request
        }
        requests.append(
            JobRequest(kind: "test.announce", queue: scheduledOnly, runAt: Date().addingTimeInterval(3_600)))

        let results = try await fixture.client.enqueue(requests)

        var heard: [String] = []
        var availableWhenHeard: [String: Int64] = [:]
        let deadline = ContinuousClock.now + .seconds(20)
        while heard.count < 2 && ContinuousClock.now < deadline {
            for notification in try listener.waitForNotifications(timeout: .seconds(1)) {
                heard.append(notification.payload)
                availableWhenHeard[notification.payload] = try listener.query(
                    "SELECT count(*)::int8 FROM queue.jobs WHERE queue = $1 AND state = 'available'",
                    [notification.payload]
                ).scalar(Int64.self)
            }
        }
        heard += try listener.waitForNotifications(timeout: .milliseconds(300)).map(\.payload)
        XCTAssertEqual(
            heard.sorted(), [fixture.queue, other].sorted(),
            "one notification per queue with runnable jobs, none for \(scheduledOnly) (scheduled work only)")
        XCTAssertEqual(
            availableWhenHeard, [fixture.queue: 15, other: 15], "each queue's jobs were committed when it was announced")
        XCTAssertEqual(results.count, 31)
        XCTAssertTrue(results.allSatisfy(\.inserted))
    }

    /// A batch in a transaction that rolls back inserts nothing and wakes nobody.
    /// Notifications arrive in commit order, so the one of a job committed afterwards
    /// proves none came before it.
    func testBulkEnqueueInARolledBackTransactionInsertsNothingAndWakesNobody() async throws {
        let fixture = try QueueFixture()
        let listener = try TestDatabase.connect()
        try listener.listen(JobChannel.name)
        struct Abandoned: Error {}
        do {
            try await fixture.pool.withTransaction { connection in
                _ = try connection.enqueue((0..<20).map { _ in fixture.request("test.rolled-back") })
                throw Abandoned()
            }
            XCTFail("the transaction should have thrown")
        } catch is Abandoned {}
        let counts = try await fixture.counts()
        XCTAssertEqual(counts, [:], "a rolled-back enqueue leaves no job")

        let marker = fixture.queue + "-marker"
        _ = try await fixture.client.enqueue(JobRequest(kind: "test.marker", queue: marker))
        XCTAssertEqual(
            try listener.waitForNotifications(timeout: .seconds(10)).map(\.payload), [marker],
            "only the committed marker job's queue was announced")
    }

    /// Through PgBouncer in transaction pooling mode, where each transaction may run on
    /// another server connection: an autocommit batch is announced after its commit
    /// (the announcement is a transaction of its own), a batch in a transaction at its
    /// commit; the LISTEN connection is direct, as workers' are.
    func testBulkEnqueueThroughTransactionPoolingWakesListeners() async throws {
        guard let url = try TestDatabase.pgbouncerURL() else {
            throw XCTSkip("pgbouncer is not installed (apt-get install pgbouncer): the PgBouncer test did not run")
        }
        let fixture = try QueueFixture()
        let pooled = PostgresPool(
            configuration: PostgresConfiguration(conninfo: url, applicationName: "tests", pooling: .transaction),
            maxConnections: 2)
        let listener = try TestDatabase.connect()
        try listener.listen(JobChannel.name)

        let autocommitted = try await JobQueueClient(database: pooled).enqueue(
            (0..<10).map { _ in fixture.request("test.pooled") })
        XCTAssertEqual(
            try listener.waitForNotifications(timeout: .seconds(10)).map(\.payload), [fixture.queue],
            "the autocommit batch was announced once")
        try await pooled.withTransaction { connection in
            _ = try connection.enqueue((0..<5).map { _ in fixture.request("test.pooled") })
        }
        XCTAssertEqual(
            try listener.waitForNotifications(timeout: .seconds(10)).map(\.payload), [fixture.queue],
            "the batch in a transaction was announced at its commit")
        let counts = try await fixture.counts()
        XCTAssertEqual(counts, ["available": 15], "ids \(autocommitted.map(\.id))")
    }

    func testUniqueKeyReturnsTheExistingJobWhilePending() async throws {
        let fixture = try QueueFixture()
        var request = fixture.request("test.unique")
        request.uniqueKey = "order-42-\(fixture.queue)"
        let first = try await fixture.client.enqueue(request)
        let second = try await fixture.client.enqueue(request)
        XCTAssertTrue(first.inserted)
        XCTAssertFalse(second.inserted)
        XCTAssertEqual(first.id, second.id)

        // Once the job is finished, the key is free again…
        _ = try await fixture.pool.query(
            "UPDATE queue.jobs SET state = 'completed', finalized_at = now() WHERE id = $1", [first.id])
        let third = try await fixture.client.enqueue(request)
        XCTAssertTrue(third.inserted)
        XCTAssertNotEqual(third.id, first.id)

        // …unless the job asked to keep it (e.g. one enqueue per cron tick).
        var retained = fixture.request("test.unique")
        retained.uniqueKey = "tick-\(fixture.queue)"
        retained.uniqueScope = .always
        let tick = try await fixture.client.enqueue(retained)
        _ = try await fixture.pool.query(
            "UPDATE queue.jobs SET state = 'completed', finalized_at = now() WHERE id = $1", [tick.id])
        let again = try await fixture.client.enqueue(retained)
        XCTAssertEqual(again, EnqueueResult(id: tick.id, inserted: false))
    }

    func testUniqueKeyUnderConcurrentEnqueuersInsertsOnce() async throws {
        let fixture = try QueueFixture()
        var race = fixture.request("test.unique")
        race.uniqueKey = "race-\(fixture.queue)"
        let request = race
        let configuration = fixture.configuration
        let results = try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let session = PostgresSession(configuration: configuration)
                    return try await session.withConnection { connection in
                        try connection.withTransaction { try $0.enqueue(request) }
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(results.filter(\.inserted).count, 1)
        XCTAssertEqual(Set(results.map(\.id)).count, 1, "every caller gets the one job's id")
        let counts = try await fixture.counts()
        XCTAssertEqual(counts, ["available": 1])
    }

    func testDuplicateKeysInOneBatchCollapse() async throws {
        let fixture = try QueueFixture()
        var request = fixture.request("test.unique")
        request.uniqueKey = "batch-\(fixture.queue)"
        let results = try await fixture.client.enqueue([request, request, request])
        XCTAssertEqual(results.filter(\.inserted).count, 1)
        XCTAssertEqual(Set(results.map(\.id)).count, 1)
    }

    func testInvalidRequestsAreRejectedWithAReason() async throws {
        let fixture = try QueueFixture()
        let cases: [(JobRequest, String)] = [
            (fixture.request("test.bad", "{not json"), "not valid JSON"),
            (fixture.request("", "{}"), "kind"),
            (JobRequest(kind: "k", queue: fixture.queue, priority: -1), "priority"),
            (fixture.request("test.bad", "{}", maxAttempts: 0), "max attempts"),
            (fixture.request("test.bad", "{\"s\": \"\\u0000\"}"), "NUL"),
            (fixture.request("test.bad", "\"" + String(repeating: "x", count: JobRequest.maxArgumentsBytes) + "\""), "limit"),
        ]
        for (request, expected) in cases {
            do {
                try await fixture.client.enqueue(request)
                XCTFail("accepted \(request.kind) \(request.argumentsJSON.prefix(40))")
            } catch let error as JobQueueError {
                XCTAssertTrue("\(error)".contains(expected), "\(error) should mention \(expected)")
            }
        }
        let counts = try await fixture.counts()
        XCTAssertEqual(counts, [:], "nothing partial was written")
    }
}
