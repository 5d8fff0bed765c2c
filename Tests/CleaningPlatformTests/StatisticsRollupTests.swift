import CleaningPlatform
import DemoData
import Foundation
import PostgresClient
import TestSupport
import XCTest

/// The statistics rollups against figures computed here, in Swift, from the
/// seeded rows themselves: the days of the business calendar, whatever the
/// database session's zone; a late refund or review corrects its day.
final class StatisticsRollupTests: XCTestCase {
    /// A database of its own: the rollup covers every order, and the figures must
    /// be those of the seed data alone.
    private func seededDatabase() throws -> (PostgresConnection, url: String) {
        let admin = try TestDatabase.connect()
        let name = TestDatabase.uniqueName("statistics")
        try admin.executeScript("CREATE DATABASE \(name)")
        addTeardownBlock { try? admin.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        var configuration = try TestDatabase.configuration
        configuration.conninfo += configuration.conninfo.contains("?") ? "&dbname=\(name)" : "?dbname=\(name)"
        let connection = try PostgresConnection.connect(configuration)
        try PostgresMigrator(directory: TestDatabase.migrationsFolder).migrate(on: connection)
        _ = try DemoDataSet(customers: 300, cleaners: 20, orders: 3_000, seed: 7)
            .load(now: Date(), timeZone: BusinessCalendar.default.timeZone, on: connection)
        return (connection, configuration.conninfo)
    }

    /// The rollup job's transaction: take the changes, recompute their days and `also`.
    @discardableResult
    private func rollUp(also: [String], zone: TimeZone, on connection: PostgresConnection) throws -> [String] {
        try connection.withTransaction { connection in
            let days = try StatisticsRollup.changedDays(also: also.compactMap(BusinessDay.init), timeZone: zone, on: connection)
            try StatisticsRollup.recompute(days: days, timeZone: zone, on: connection)
            return days.map(\.description)
        }
    }

    /// Each day's line computed from the rows: orders by the day they were
    /// placed, customers by the day they joined and ordered, cleaners by the day
    /// they completed orders, days read in `zone`.
    private func computedFigures(zone: TimeZone, on connection: PostgresConnection) throws -> [PlatformStatistics.Day] {
        let calendar = BusinessCalendar(timeZone: zone)
        let rates = Dictionary(uniqueKeysWithValues: try connection.query("SELECT level, rate_bp::int8 FROM platform.commission_rates")
            .rows.map { try $0.decode((String, Int64).self) })
        let levels = Dictionary(uniqueKeysWithValues: try connection.query("SELECT id, level FROM platform.cleaners")
            .rows.map { try $0.decode((Int64, String).self) })
        let ratings = Dictionary(uniqueKeysWithValues: try connection.query("SELECT order_id, rating::int8 FROM platform.reviews")
            .rows.map { try $0.decode((Int64, Int64).self) })
        var days: [String: PlatformStatistics.Day] = [:]
        func line(_ day: String) -> PlatformStatistics.Day {
            days[day] ?? PlatformStatistics.Day(day: day)
        }
        for row in try connection.query("SELECT created_at FROM platform.customers").rows {
            let day = calendar.day(of: try row.decode(0, as: Date.self))
            days[day] = line(day)
            days[day]!.newCustomers += 1
        }
        let orders = try connection.query(
            """
            SELECT id, customer_id, cleaner_id, status, amount_fen, paid_fen, refunded_fen, created_at, completed_at,
                   duration_minutes::int8
            FROM platform.orders
            """
        ).rows.map { try $0.decode((Int64, Int64, Int64?, String, Int64, Int64, Int64, Date, Date?, Int64).self) }
        var firstOrderDay: [Int64: String] = [:]
        for order in orders {
            let day = calendar.day(of: order.7)
            firstOrderDay[order.1] = min(firstOrderDay[order.1] ?? day, day)
        }
        var activeCustomers: [String: Set<Int64>] = [:], activeCleaners: [String: Set<Int64>] = [:]
        var ratingSums: [String: Int64] = [:]
        for (id, customer, cleaner, status, amount, paid, refunded, created, completed, minutes) in orders {
            let day = calendar.day(of: created)
            days[day] = line(day)
            days[day]!.ordersPlaced += 1
            if status == OrderStatus.completed { days[day]!.ordersCompleted += 1 }
            if status == OrderStatus.cancelled { days[day]!.ordersCancelled += 1 }
            days[day]!.gmvFen += amount
            days[day]!.paidFen += paid
            days[day]!.refundedFen += refunded
            activeCustomers[day, default: []].insert(customer)
            if status == OrderStatus.completed, let completed, let cleaner {
                let done = calendar.day(of: completed)
                days[done] = line(done)
                activeCleaners[done, default: []].insert(cleaner)
                days[done]!.serviceMinutes += minutes
                let kept = paid - refunded
                days[done]!.cleanerIncomeFen += kept - (kept * rates[levels[cleaner]!]! + 5_000) / 10_000
                if let rating = ratings[id] {
                    days[done]!.reviews += 1
                    ratingSums[done, default: 0] += rating
                }
            }
        }
        for (day, customers) in activeCustomers {
            days[day]!.activeCustomers = customers.count
            days[day]!.returningCustomers = customers.filter { firstOrderDay[$0]! < day }.count
        }
        for (day, cleaners) in activeCleaners {
            days[day]!.activeCleaners = cleaners.count
            days[day]!.utilisationBasisPoints = Int(days[day]!.serviceMinutes * 10_000 / Int64(cleaners.count * 480))
        }
        for (day, sum) in ratingSums {
            let reviews = Int64(days[day]!.reviews)
            days[day]!.ratingHundredths = Int((sum * 100 + reviews / 2) / reviews)
        }
        return days.values.sorted { $0.day < $1.day }
    }

    /// The rollup's lines for the expected days (every day in between, empty ones dropped).
    private func rolledUp(_ expected: [PlatformStatistics.Day], on connection: PostgresConnection) throws -> [PlatformStatistics.Day] {
        let first = try XCTUnwrap(BusinessDay(expected.first!.day)), last = try XCTUnwrap(BusinessDay(expected.last!.day))
        return try PlatformStatistics.read(from: first, to: last, on: connection).days.filter { $0 != PlatformStatistics.Day(day: $0.day) }
    }

    /// Equal lines, and the differing days named when not (the whole lists are long).
    private func assertSameDays(
        _ actual: [PlatformStatistics.Day], _ expected: [PlatformStatistics.Day], file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(actual.map(\.day), expected.map(\.day), "days with figures", file: file, line: line)
        for (got, want) in zip(actual, expected) where got != want {
            XCTFail("\(want.day): rolled up \(got), computed \(want)", file: file, line: line)
        }
    }

    private func tables(on connection: PostgresConnection) throws -> [String] {
        try [
            "order_statistics_daily", "order_statistics_hourly", "customer_statistics_daily", "cleaner_statistics_daily",
        ].flatMap { table in
            try connection.query("SELECT t::text FROM platform.\(table) AS t ORDER BY 1").rows.map { try $0.decode(0, as: String.self) }
        }
    }

    func testRollupsEqualFiguresComputedFromTheSeedDataInAnySessionZone() async throws {
        let (connection, url) = try seededDatabase()
        let shanghai = BusinessCalendar.default.timeZone
        try connection.execute("SET TimeZone = 'America/New_York'")
        let recomputed = try rollUp(also: [], zone: shanghai, on: connection)
        let expected = try computedFigures(zone: shanghai, on: connection)
        XCTAssertEqual(recomputed, expected.map(\.day), "the first rollup covers every day the seed wrote")
        XCTAssertGreaterThan(expected.count, 90)
        assertSameDays(try rolledUp(expected, on: connection), expected)
        XCTAssertGreaterThan(expected.map(\.returningCustomers).reduce(0, +), 0, "the data has returning customers to count")
        XCTAssertGreaterThan(expected.map(\.reviews).reduce(0, +), 0)

        // The breakdowns add up to the day, and the hours are the business zone's.
        let byDistrictAndChannel = try connection.query(
            "SELECT count(DISTINCT district)::int8, count(DISTINCT channel)::int8, sum(orders_placed)::int8 FROM platform.order_statistics_daily"
        ).first!.decode((Int64, Int64, Int64).self)
        XCTAssertEqual(byDistrictAndChannel.0, 9)
        XCTAssertEqual(byDistrictAndChannel.1, Int64(OrderChannel.all.count))
        XCTAssertEqual(byDistrictAndChannel.2, 3_000)
        let calendar = BusinessCalendar(timeZone: shanghai)
        var hours: [String: Int64] = [:]
        for row in try connection.query("SELECT created_at FROM platform.orders").rows {
            let created = try row.decode(0, as: Date.self)
            hours["\(calendar.day(of: created)) \(calendar.hour(of: created))", default: 0] += 1
        }
        let rolledHours = try connection.query(
            "SELECT to_char(day, 'YYYY-MM-DD') || ' ' || hour, orders_placed::int8 FROM platform.order_statistics_hourly")
            .rows.map { try $0.decode((String, Int64).self) }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: rolledHours), hours)

        // `jobsctl stats platform` prints and exports the same lines.
        let csvPath = NSTemporaryDirectory() + TestDatabase.uniqueName("statistics") + ".csv"
        defer { try? FileManager.default.removeItem(atPath: csvPath) }
        let (first, last) = (expected[expected.count - 10].day, expected.last!.day)
        let run = try await JobsctlRun.run(["stats", "platform", "--from", first, "--to", last, "--csv", csvPath, "--database-url", url])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("ORDERS_PLACED"), run.output)
        let lines = try PlatformStatistics.read(from: XCTUnwrap(BusinessDay(first)), to: XCTUnwrap(BusinessDay(last)), on: connection)
        XCTAssertEqual(lines.days.count, 10)
        XCTAssertEqual(try String(contentsOfFile: csvPath, encoding: .utf8), lines.csv)
        XCTAssertEqual(lines.csv.split(separator: "\n").first.map(String.init), PlatformStatistics.columns.joined(separator: ","))
        let json = try await JobsctlRun.run(["stats", "platform", "--from", first, "--to", last, "--json", "--database-url", url])
        XCTAssertEqual(try JSONDecoder().decode(PlatformStatistics.self, from: Data(json.output.utf8)), lines)

        // Recomputing every day again, from a session in another zone, writes the same rows.
        let before = try tables(on: connection)
        try connection.execute("SET TimeZone = 'Asia/Kolkata'")
        try rollUp(also: expected.map(\.day), zone: shanghai, on: connection)
        XCTAssertEqual(try tables(on: connection), before)

        // Another business zone moves orders to other days, as the calendar says
        // (a changed zone means recomputing every day of both).
        let losAngeles = try XCTUnwrap(TimeZone(identifier: "America/Los_Angeles"))
        let expectedThere = try computedFigures(zone: losAngeles, on: connection)
        try rollUp(also: Set(expectedThere.map(\.day) + expected.map(\.day)).sorted(), zone: losAngeles, on: connection)
        assertSameDays(try rolledUp(expectedThere, on: connection), expectedThere)
        XCTAssertNotEqual(expectedThere, expected)
    }

    func testALateRefundOrReviewCorrectsItsDayAndOnlyChangedDaysAreRecomputed() throws {
        let (connection, _) = try seededDatabase()
        let zone = BusinessCalendar.default.timeZone
        let calendar = BusinessCalendar(timeZone: zone)
        try rollUp(also: [], zone: zone, on: connection)
        XCTAssertEqual(try rollUp(also: [], zone: zone, on: connection), [], "nothing changed: nothing recomputed")

        // Days later: an order placed some ten days ago is refunded in full, another gets its review.
        let (refundedID, placed, completed) = try connection.query(
            """
            SELECT id, created_at, completed_at FROM platform.orders
            WHERE status = '\(OrderStatus.completed)' AND created_at < now() - interval '10 days' ORDER BY id LIMIT 1
            """
        ).first!.decode((Int64, Date, Date).self)
        let (reviewedID, reviewedCompleted) = try connection.query(
            """
            SELECT o.id, o.completed_at FROM platform.orders AS o
            WHERE o.status = '\(OrderStatus.completed)' AND o.completed_at < now() - interval '30 days'
              AND NOT EXISTS (SELECT 1 FROM platform.reviews AS r WHERE r.order_id = o.id)
            ORDER BY o.id LIMIT 1
            """
        ).first!.decode((Int64, Date).self)
        let stale = try rolledUp(try computedFigures(zone: zone, on: connection), on: connection)
        try connection.execute("UPDATE platform.orders SET refunded_fen = paid_fen WHERE id = $1", [refundedID])
        try connection.execute("INSERT INTO platform.reviews (order_id, rating) VALUES ($1, 1)", [reviewedID])

        let today = calendar.day(of: Date())
        let recomputed = try rollUp(also: [today], zone: zone, on: connection)
        XCTAssertEqual(
            recomputed, Set([calendar.day(of: placed), calendar.day(of: completed), calendar.day(of: reviewedCompleted), today]).sorted())
        let expected = try computedFigures(zone: zone, on: connection)
        let fresh = try rolledUp(expected, on: connection)
        assertSameDays(fresh, expected)
        let placedDay = try XCTUnwrap(fresh.first { $0.day == calendar.day(of: placed) })
        let placedBefore = try XCTUnwrap(stale.first { $0.day == calendar.day(of: placed) })
        XCTAssertGreaterThan(placedDay.refundedFen, placedBefore.refundedFen, "the refund counts on the day the order was placed")
        let reviewedDay = try XCTUnwrap(fresh.first { $0.day == calendar.day(of: reviewedCompleted) })
        XCTAssertEqual(reviewedDay.reviews, try XCTUnwrap(stale.first { $0.day == reviewedDay.day }).reviews + 1)
    }
}
