import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The nightly cleaner recommendations on a small hand-made data set, run as the real job.
final class CleanerRecommendationTests: XCTestCase {
    private func recommend(_ fixture: PlatformFixture, now: Date) async throws {
        let services = PlatformServices(clock: .fixed(now), provider: RecordingProvider(), log: .silent)
        let id = try await JobQueueClient(database: fixture.pool).enqueue(
            try JobRequest(RecommendCleaners(), queue: PlatformJobs.maintenanceQueue)).id
        try await fixture.running(services) {
            _ = try await fixture.eventually { try await fixture.jobState(id) == .completed }
        }
        let state = try await fixture.jobState(id)
        XCTAssertEqual(state, .completed)
    }

    private func list(_ fixture: PlatformFixture, customer: Int64, night: String) async throws -> [Int64] {
        try await fixture.pool.query(
            "SELECT cleaner_id FROM platform.cleaner_recommendations WHERE night = $1::date AND customer_id = $2 ORDER BY rank",
            [night, customer]
        ).rows.map { try $0.decode(Int64.self) }
    }

    func testListsKeepWellRatedNearbyCertifiedCleanersAndNeverThoseRatedTwoOrLess() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let liked = try await fixture.availableCleaner(near: place.moved(northKm: 3)).id
        let nearest = try await fixture.availableCleaner(near: place).id
        let disliked = try await fixture.availableCleaner(near: place).id
        let farAway = try await fixture.availableCleaner(near: place.moved(northKm: 40)).id
        let otherSkill = try await fixture.availableCleaner(near: place, skill: "windows").id
        let resting = try await fixture.availableCleaner(near: place).id
        _ = try await fixture.pool.query("UPDATE platform.cleaners SET status = 'resting' WHERE id = $1", [resting])
        // The customer's history, all daily cleaning at `place`: liked rated 5, disliked rated 2.
        try await fixture.reviewedOrder(customer: customer.id, cleaner: liked, at: place, rating: 5)
        try await fixture.reviewedOrder(customer: customer.id, cleaner: disliked, at: place, rating: 2)

        let now = Date()
        let night = BusinessCalendar.default.day(of: now)
        try await recommend(fixture, now: now)
        let first = try await list(fixture, customer: customer.id, night: night)
        // Liked first (their own 5 outweighs 3 km), then the nearest one. Out: disliked
        // (rated 2), farAway (its 10 km area misses the address), otherSkill (not
        // certified for daily cleaning), resting (not active).
        XCTAssertEqual(first, [liked, nearest])
        for cleaner in [disliked, farAway, otherSkill, resting] {
            XCTAssertFalse(first.contains(cleaner), "cleaner \(cleaner) must not be recommended")
        }

        // A re-run the same night replaces the night's list: same list, no duplicates.
        try await recommend(fixture, now: now)
        let second = try await list(fixture, customer: customer.id, night: night)
        XCTAssertEqual(second, first)
    }
}
