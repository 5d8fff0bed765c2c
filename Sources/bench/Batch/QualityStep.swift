import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `bench batch`'s quality step: the weekly service-quality job for one week,
/// through a real worker, timed, with what it decided.
enum QualityStep {
    static func time(
        _ week: PayoutPeriod, now: Date, services: PlatformServices, database: DatabaseOptions
    ) async throws -> BatchCommand.Result {
        let loadBefore = LoadAverage.text(places: 1)
        let seconds = try await TimedWorkerRun.time(
            database.configuration, services: services, queues: [PlatformJobs.maintenanceQueue: 1]
        ) { pool in
            let id = try await JobQueueClient(database: pool).enqueue(
                try JobRequest(ScoreServiceQuality(period: week.name), queue: PlatformJobs.maintenanceQueue)).id
            let administration = JobAdministration(database: pool)
            return { try await administration.show(id)?.job.state == .completed }
        }
        let connection = try PostgresConnection.connect(database.configuration)
        let outcomes = Dictionary(uniqueKeysWithValues: try connection.query(
            "SELECT outcome, count(*)::int8 FROM platform.quality_decisions WHERE period = $1 GROUP BY outcome", [week.name]
        ).rows.map { try $0.decode((String, Int64).self) })
        let window = try connection.query(
            """
            SELECT count(*)::int8 FROM platform.orders
            WHERE status = '已完成' AND completed_at >= $1::timestamptz - interval '28 days' AND completed_at < $1
            """, [week.end]
        ).scalar(Int64.self)
        let decided = outcomes.values.reduce(0, +)
        return BatchCommand.Result(
            name: "service quality \(week.name)", seconds: seconds, load: "\(loadBefore)→\(LoadAverage.text(places: 1))",
            detail: String(format: "%d cleaners decided (%.0f/s) over %d completed orders in the window; ", decided,
                           Double(decided) / seconds, window)
                + QualityOutcome.allCases.map { "\($0.rawValue) \(outcomes[$0.rawValue, default: 0])" }.joined(separator: ", "))
    }
}
