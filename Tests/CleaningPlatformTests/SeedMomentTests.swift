import Foundation
import PostgresClient
import TestSupport
import XCTest

/// `jobsctl seed --now`: the demo data is placed around the given moment, not the
/// moment of loading, so two runs seeded alike hold the same rows
/// (scripts/check-run.sh --citus compares a single-server run with a Citus run).
final class SeedMomentTests: XCTestCase {
    func testTheDataIsPlacedAroundTheGivenMoment() async throws {
        try TestDatabase.migrate()
        let connection = try TestDatabase.connect()
        let before = try connection.query("SELECT coalesce(max(id), 0)::int8 FROM platform.orders").scalar(Int64.self)
        // Seeds 10–99 are this test's own: the seed decides the phone numbers, which are unique.
        let seed = Int.random(in: 10...99)
        let moment = "2026-03-10T12:00:00+08:00"
        let run = try await JobsctlRun.run([
            "seed", "--force", "--customers", "40", "--cleaners", "5", "--orders", "200", "--seed", "\(seed)", "--now", moment,
        ])
        XCTAssertEqual(run.status, 0, run.output)
        let placed = try connection.query(
            """
            SELECT count(*)::int8,
                   count(*) FILTER (WHERE appointment_start < $2::timestamptz - interval '90 days'
                                       OR appointment_start > $2::timestamptz + interval '7 days')::int8,
                   count(*) FILTER (WHERE appointment_start = $2::timestamptz + interval '1 day 15 seconds')::int8,
                   count(*) FILTER (WHERE status = '已完成' AND completed_at > $2::timestamptz)::int8
            FROM platform.orders WHERE id > $1
            """, [before, moment])
        let row = try XCTUnwrap(placed.rows.first)
        XCTAssertEqual(try row.decode(0, as: Int64.self), 200)
        XCTAssertEqual(try row.decode(1, as: Int64.self), 0, "every order lies from 90 days before to 7 days after \(moment)")
        XCTAssertEqual(
            try row.decode(2, as: Int64.self), 1, "the first order starts a day and 15 seconds after \(moment) (its reminder is due then)")
        XCTAssertEqual(try row.decode(3, as: Int64.self), 0, "no order was completed after \(moment)")
    }
}
