import Foundation
public import JobQueue
import PostgresClient

/// Brings the statistics tables up to date: recomputes today (so the hourly
/// figures of today are fresh), every day whose orders, reviews or customers
/// changed since the last run (`platform.statistics_changes`), and any days
/// asked for. Runs every quarter of an hour; a second run with nothing changed
/// rewrites today with the same figures. One rollup at a time (a table lock that
/// readers pass): two concurrent runs would each recompute half the changes.
public struct RollUpStatistics: JobArguments {
    public static let kind = "statistics.rollup"
    /// Extra business days to recompute, `YYYY-MM-DD` (a back-office re-run).
    public var days: [String]?

    public init(days: [String]? = nil) {
        self.days = days
    }

    public func validate() throws(JobArgumentsError) {
        for day in days ?? [] where BusinessDay(day) == nil {
            throw JobArgumentsError("days: \"\(day)\" is not a date as YYYY-MM-DD")
        }
    }

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let today = services.calendar.businessDay(of: services.clock.now)
        let asked = (days ?? []).compactMap(BusinessDay.init)
        let zone = services.timeZone
        let recomputed = try await context.database.withTransaction { connection -> [BusinessDay] in
            try connection.execute("LOCK TABLE platform.order_statistics_daily IN EXCLUSIVE MODE")
            let days = try StatisticsRollup.changedDays(also: [today] + asked, timeZone: zone, on: connection)
            try StatisticsRollup.recompute(days: days, timeZone: zone, on: connection)
            return days
        }
        services.log.info(
            "statistics rolled up",
            [("days", "\(recomputed.count)"), ("first", recomputed.first?.description ?? ""),
             ("last", recomputed.last?.description ?? "")])
    }
}
