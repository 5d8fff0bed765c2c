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

    /// The grid prefilter (migration 0021) must not lose a cleaner whose area reaches
    /// the address from another cell: homes just across a row border (north–south),
    /// across several column borders at 60° N where cells are narrow, a service area
    /// across a border, and one just inside its radius.
    func testTheGridPrefilterKeepsQualifyingCleanersAcrossCellBorders() async throws {
        let fixture = try PlatformFixture()
        // 1 µ° north of a row border and 1 µ° east of a column border, at 60° N.
        let cell = 0.05
        let latitude = (Double(Int((60 + 90) / cell)) * cell - 90) + 0.000_001
        let longitude = (Double(Int((Double.random(in: -170...170) + 180) / cell)) * cell - 180) + 0.000_001
        let place = DispatchPlace(latitude: latitude, longitude: longitude)
        let customer = try await fixture.customer()
        let anchor = try await fixture.availableCleaner(near: place).id
        try await fixture.reviewedOrder(customer: customer.id, cleaner: anchor, at: place, rating: 5)

        // 9.9 km south: two row borders away, still inside its 10 km area.
        let south = try await fixture.availableCleaner(near: place.moved(northKm: -9.9)).id
        // 9.9 km west along the parallel's great circle: at 60° N about four columns away.
        let westDegrees = 2 * asin(sin(9.9 / 6371 / 2) / cos(latitude * .pi / 180)) * 180 / .pi
        let west = try await fixture.availableCleaner(
            near: DispatchPlace(latitude: latitude, longitude: longitude - westDegrees)).id
        // Home 30 km north, but a 5 km service area whose centre is 4.9 km south, across the row border.
        let byArea = try await fixture.availableCleaner(near: place.moved(northKm: 30)).id
        let areaCentre = place.moved(northKm: -4.9)
        _ = try await fixture.pool.query(
            "INSERT INTO platform.cleaner_service_areas (cleaner_id, latitude, longitude, radius_km) VALUES ($1, $2, $3, 5)",
            [byArea, areaCentre.latitude, areaCentre.longitude])
        // 10.1 km south: outside its 10 km area, whatever the cells.
        let outside = try await fixture.availableCleaner(near: place.moved(northKm: -10.1)).id

        let cells = try await fixture.pool.query(
            "SELECT count(DISTINCT platform.grid_cell(latitude, longitude))::int8 FROM platform.cleaners WHERE id = ANY($1)",
            [[anchor, south, west]]
        ).scalar(Int64.self)
        XCTAssertEqual(cells, 3, "the cleaners' homes lie in three different cells")

        let now = Date()
        try await recommend(fixture, now: now)
        let recommended = try await list(fixture, customer: customer.id, night: BusinessCalendar.default.day(of: now))
        XCTAssertEqual(recommended.first, anchor, "the customer's own 5 leads")
        XCTAssertEqual(Set(recommended), [anchor, south, west, byArea])
        XCTAssertFalse(recommended.contains(outside))
    }
}
