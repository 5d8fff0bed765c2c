import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The SQL API's enqueue (`queue.enqueue`, `queue.enqueue_many`) against the Swift
/// client: every path stores the same row for the same request, refuses the same
/// bad input, and wakes workers the same way.
final class SQLEnqueueTests: XCTestCase {
    /// The four ways in: the Swift client one at a time (a one-row insert, or
    /// `queue.enqueue_job` for a unique key, dependencies or a batch callback) and as a
    /// list (its array statements), and SQL one at a time with named parameters and as
    /// a JSON array.
    enum Path: CaseIterable { case swiftSingle, swiftBulk, sqlSingle, sqlBulk }

    static let enqueueSQL = """
        SELECT queue.enqueue($1, $2::jsonb, queue => $3, priority => $4::int4, run_at => $5, max_attempts => $6::int4,
            tags => $7, unique_key => $8, unique_scope => $9, deadline => $10, depends_on => $11, batch_id => $12,
            callback_for_batch => $13)
        """

    /// One request as an element of `queue.enqueue_many`'s array.
    static func jobObject(_ request: JobRequest) throws -> [String: Any] {
        let time = ISO8601DateFormatter()
        time.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var job: [String: Any] = [
            "kind": request.kind, "queue": request.queue, "priority": request.priority,
            "max_attempts": request.maxAttempts, "tags": request.tags, "unique_scope": request.uniqueScope.rawValue,
            "depends_on": request.dependsOn,
            "args": try JSONSerialization.jsonObject(with: Data(request.argumentsJSON.utf8), options: [.fragmentsAllowed]),
        ]
        job["run_at"] = request.runAt.map(time.string(from:))
        job["deadline"] = request.deadline.map(time.string(from:))
        job["unique_key"] = request.uniqueKey
        job["batch_id"] = request.batchID
        job["callback_for_batch"] = request.callbackForBatch
        return job
    }

    static func enqueueMany(_ requests: [JobRequest], on connection: PostgresConnection) throws -> [EnqueueResult] {
        let json = try JSONSerialization.data(withJSONObject: try requests.map(jobObject))
        return try connection.query(
            "SELECT ordinal, id, inserted FROM queue.enqueue_many($1::jsonb)", [String(decoding: json, as: UTF8.self)]
        ).rows.map { row in
            let (_, id, inserted) = try row.decode((Int64, Int64, Bool).self)
            return EnqueueResult(id: id, inserted: inserted)
        }
    }

    static func enqueue(_ request: JobRequest, path: Path, on connection: PostgresConnection) throws -> EnqueueResult {
        switch path {
        case .swiftSingle:
            return try connection.enqueue(request)
        case .swiftBulk:
            return try connection.enqueue([request])[0]
        case .sqlSingle:
            // The function returns only the id: a new job is one its queue did not hold before
            // (ids are not compared with the sequence: each backend takes them 1 000 at a time).
            let before = try connection.query("SELECT id FROM queue.jobs WHERE queue = $1", [request.queue]).rows
                .map { try $0.decode(0, as: Int64.self) }
            let id = try connection.query(
                enqueueSQL,
                [
                    request.kind, request.argumentsJSON, request.queue, Int64(request.priority), request.runAt,
                    Int64(request.maxAttempts), request.tags, request.uniqueKey, request.uniqueScope.rawValue,
                    request.deadline, request.dependsOn, request.batchID, request.callbackForBatch,
                ]
            ).scalar(Int64.self)
            return EnqueueResult(id: id, inserted: !before.contains(id))
        case .sqlBulk:
            return try enqueueMany([request], on: connection)[0]
        }
    }

    /// Every case through every path: the stored rows agree column by column
    /// (times relative to the row's creation), and a repeated unique key returns
    /// the first job on every path.
    func testEveryPathStoresTheSameRowForTheSameRequest() async throws {
        let fixture = try QueueFixture()
        let connection = try TestDatabase.connect()
        let parent = try connection.enqueue(fixture.request("test.parent")).id
        let soon = Date().addingTimeInterval(90)
        let cases: [(String, (inout JobRequest) -> Void)] = [
            ("plain", { _ in }),
            ("arguments and priority", { $0.argumentsJSON = #"{"n": 1, "nested": {"list": [1, "两"]}}"#; $0.priority = 7 }),
            ("later, fewer attempts", { $0.runAt = soon; $0.maxAttempts = 3 }),
            ("tags", { $0.tags = ["order:1", "order:1:timed"] }),
            ("unique key kept always", { $0.uniqueKey = "always"; $0.uniqueScope = .always }),
            ("deadline", { $0.deadline = soon.addingTimeInterval(600) }),
            ("dependencies", { $0.dependsOn = [parent] }),
            ("in a batch", { $0.batchID = "batch" }),
            ("batch callback", { $0.callbackForBatch = "batch" }),
        ]
        // Times the request gives are compared as instants, not as offsets from
        // created_at, which differs between the paths by however long each took.
        let columns = """
            kind, args::text, priority::int8, state, max_attempts::int8, tags, unique_scope,
            coalesce(round(extract(epoch FROM deadline_at))::int8, -1),
            CASE WHEN run_at > created_at + interval '1 minute' THEN round(extract(epoch FROM run_at))::int8 ELSE 0 END,
            depends_on, coalesce(batch_id, '-'),
            coalesce(callback_for_batch, '-'), unique_key IS NOT NULL
            """
        for (name, change) in cases {
            var described: [String] = []
            for path in Path.allCases {
                var request = fixture.request("test.matrix")
                change(&request)
                // Names that must differ per path to keep the rows apart.
                request.queue = "\(fixture.queue)-\(path)"
                request.uniqueKey = request.uniqueKey.map { "\($0)-\(path)-\(fixture.queue)" }
                request.batchID = request.batchID.map { "\($0)-\(path)-\(fixture.queue)" }
                request.callbackForBatch = request.callbackForBatch.map { "\($0)-\(path)-\(fixture.queue)" }
                let first = try Self.enqueue(request, path: path, on: connection)
                XCTAssertTrue(first.inserted, "\(name), \(path)")
                if request.uniqueKey != nil {
                    let again = try Self.enqueue(request, path: path, on: connection)
                    XCTAssertEqual(again, EnqueueResult(id: first.id, inserted: false), "\(name), \(path): the holder")
                }
                let row = try connection.query("SELECT \(columns) FROM queue.jobs WHERE id = $1", [first.id]).first!
                described.append(
                    try (0..<13).map { index -> String in
                        switch index {
                        case 2, 4, 7, 8: "\(try row.decode(index, as: Int64.self))"
                        case 5: "\(try row.decode(index, as: [String].self))"
                        case 9: "\(try row.decode(index, as: [Int64].self))"
                        case 12: "\(try row.decode(index, as: Bool.self))"
                        default: try row.decode(index, as: String.self)
                        }
                    }.joined(separator: " | ")
                    .replacingOccurrences(of: "-\(path)-\(fixture.queue)", with: ""))
            }
            XCTAssertEqual(Set(described).count, 1, "\(name): \(described.joined(separator: "\n"))")
        }
    }

    /// Bad input through SQL is refused with SQLSTATE 22023 and a message naming
    /// the parameter, as the Swift client refuses it; nothing is written.
    func testBadInputIsRefusedOnEveryPathAndWritesNothing() async throws {
        let fixture = try QueueFixture()
        let connection = try TestDatabase.connect()
        let oversize = #"{"text": ""# + String(repeating: "x", count: JobRequest.maxArgumentsBytes) + #""}"#
        // What the SQL message says (it names the parameter), what the Swift one says.
        let cases: [(sql: String, swift: String, change: (inout JobRequest) -> Void)] = [
            ("args must be a JSON object", "must be a JSON object", { $0.argumentsJSON = "[1, 2]" }),
            ("args must be a JSON object", "must be a JSON object", { $0.argumentsJSON = #""text""# }),
            ("args are", "the limit is", { $0.argumentsJSON = oversize }),
            ("kind must be", "kind must be", { $0.kind = " " }),
            ("queue must be", "queue must be", { $0.queue = "\u{3000}" }),
            ("queue must be", "queue must be", { $0.queue = String(repeating: "q", count: 101) }),
            ("priority must be", "priority must be", { $0.priority = -1 }),
            ("priority must be", "priority must be", { $0.priority = 40_000 }),
            ("max_attempts must be", "max attempts must be", { $0.maxAttempts = 0 }),
            ("unique_key must not be blank", "unique key must not be blank", { $0.uniqueKey = "\u{200B}" }),
            ("unique_key must be 1 to 1000 bytes", "unique key must be", { $0.uniqueKey = String(repeating: "k", count: 1001) }),
            ("tag must not be blank", "tag must not be blank", { $0.tags = ["ok", " "] }),
            ("batch callback cannot", "batch callback cannot", { $0.dependsOn = [1]; $0.callbackForBatch = "b" }),
        ]
        for (sqlMention, swiftMention, change) in cases {
            var request = fixture.request("test.bad")
            change(&request)
            XCTAssertThrowsError(try connection.enqueue(request), swiftMention) { error in
                XCTAssertTrue("\(error)".contains(swiftMention), "Swift: \(error) should say \(swiftMention)")
            }
            for path in [Path.sqlSingle, .sqlBulk] {
                do {
                    _ = try Self.enqueue(request, path: path, on: connection)
                    XCTFail("\(path) accepted a request that should be refused with \(sqlMention)")
                } catch let error as PostgresError {
                    XCTAssertEqual(error.sqlState, "22023", "\(path): \(error)")
                    XCTAssertTrue(error.message.contains(sqlMention), "\(path): \(error.message) should say \(sqlMention)")
                }
            }
        }
        let counts = try await fixture.counts()
        XCTAssertEqual(counts, [:], "nothing was written")
    }

    /// `queue.enqueue_many` refuses what is not a list of job objects, naming the
    /// element and the field.
    func testTheJSONArrayFormNamesTheBadElementAndField() throws {
        let connection = try TestDatabase.connect()
        let cases: [(String, String)] = [
            (#"{"kind": "a"}"#, "JSON array"),
            (#"[{"kind": "a", "args": {}}, 5]"#, "job 2: not a JSON object"),
            (#"[{"kind": "a", "args": {}, "prio": 1}]"#, #"job 1: unknown field "prio""#),
            (#"[{"kind": "a", "args": {}, "priority": "high"}]"#, "job 1: priority must be an integer"),
            (#"[{"kind": "a", "args": {}, "tags": ["x", 1]}]"#, "job 1: tags must be an array of texts"),
            (#"[{"kind": "a", "args": {}, "depends_on": [0]}]"#, "job 1: depends_on must be an array of job ids"),
            (#"[{"args": {}}]"#, "job 1: kind must be"),
        ]
        for (json, mention) in cases {
            XCTAssertThrowsError(try connection.query("SELECT * FROM queue.enqueue_many($1::jsonb)", [json]), json) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState, "22023", "\(error)")
                XCTAssertTrue("\(error)".contains(mention), "\(error) should say \(mention)")
            }
        }
    }

    /// An available job enqueued from SQL wakes the queue's workers at commit, one
    /// notification per queue, and none for work that waits.
    func testSQLEnqueueNotifiesAtCommitOncePerQueue() throws {
        let fixture = try QueueFixture()
        let listener = try TestDatabase.connect()
        try listener.listen(JobChannel.name)
        let app = try TestDatabase.connect()
        let ids = try app.withTransaction { connection -> [Int64] in
            let one = try connection.query("SELECT queue.enqueue('test.sql', '{}', queue => $1)", [fixture.queue])
                .scalar(Int64.self)
            let many = try connection.query(
                "SELECT id FROM queue.enqueue_many(jsonb_build_array(jsonb_build_object('kind', 'test.sql', 'queue', $1::text), jsonb_build_object('kind', 'test.sql', 'queue', $1::text)))",
                [fixture.queue]
            ).rows.map { try $0.decode(0, as: Int64.self) }
            XCTAssertEqual(try listener.waitForNotifications(timeout: .milliseconds(200)), [], "nothing before commit")
            return [one] + many
        }
        XCTAssertEqual(Set(ids).count, 3)
        let received = try listener.waitForNotifications(timeout: .seconds(5))
        XCTAssertEqual(received.map(\.payload), [fixture.queue], "one for the transaction (PostgreSQL folds repeats)")
        _ = try app.query(
            "SELECT queue.enqueue('test.sql', '{}', queue => $1, run_at => now() + interval '10 minutes')", [fixture.queue])
        XCTAssertEqual(try listener.waitForNotifications(timeout: .milliseconds(300)), [], "scheduled work wakes nobody yet")
    }
}
