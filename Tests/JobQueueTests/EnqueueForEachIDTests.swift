import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

final class EnqueueForEachIDTests: XCTestCase {
    func testOneJobPerIDWithItsArgumentAndKeySkippingTakenKeysAndWakingOnce() async throws {
        let fixture = try QueueFixture()
        let prefix = "each-\(fixture.queue)-"
        var holder = fixture.request("test.each")
        holder.uniqueKey = "\(prefix)2"
        _ = try await fixture.client.enqueue(holder)
        let listener = try TestDatabase.connect()
        try listener.listen(JobChannel.name)
        var template = fixture.request("test.each", #"{"replaced": true}"#, maxAttempts: 3)
        template.priority = 4
        template.tags = ["fan-out"]
        let request = template
        let connection = try TestDatabase.connect()
        let inserted = try connection.withTransaction { connection in
            let inserted = try connection.enqueue(request, forEachID: [1, 2, 3], argument: "itemID", uniqueKeyPrefix: prefix)
            XCTAssertEqual(try listener.waitForNotifications(timeout: .milliseconds(200)), [], "nothing before commit")
            return inserted
        }
        XCTAssertEqual(inserted, 2, "the job holding key 2 is left as it was")
        let received = try listener.waitForNotifications(timeout: .seconds(5))
        XCTAssertEqual(received.map(\.payload), [fixture.queue], "one notification for the statement")

        let rows = try await fixture.pool.query(
            """
            SELECT unique_key, COALESCE(args->>'itemID', '-'), args ? 'replaced', priority::int8, max_attempts::int8, tags,
                   state
            FROM queue.jobs WHERE queue = $1 ORDER BY unique_key
            """, [fixture.queue]
        ).rows.map { try $0.decode((String, String, Bool, Int64, Int64, [String], String).self) }
        XCTAssertEqual(rows.map(\.0), ["\(prefix)1", "\(prefix)2", "\(prefix)3"])
        XCTAssertEqual(rows.map(\.1), ["1", "-", "3"], "each job carries its id; the holder keeps its own arguments")
        XCTAssertEqual(rows.map(\.2), [false, false, false], "the template's arguments are replaced")
        XCTAssertEqual(rows[0].3, 4)
        XCTAssertEqual(rows[2].4, 3)
        XCTAssertEqual(rows[2].5, ["fan-out"])
        XCTAssertEqual(rows.map(\.6), ["available", "available", "available"])

        let unkeyed = try connection.enqueue(request, forEachID: [7, 7], argument: "itemID")
        XCTAssertEqual(unkeyed, 2, "without a prefix there is no key to collide on")
        XCTAssertEqual(try connection.enqueue(request, forEachID: [], argument: "itemID"), 0)
        var later = request
        later.runAt = Date().addingTimeInterval(60)
        XCTAssertThrowsError(try connection.enqueue(later, forEachID: [1], argument: "itemID")) { error in
            XCTAssertTrue("\(error)".contains("run now"), "\(error)")
        }
    }
}
