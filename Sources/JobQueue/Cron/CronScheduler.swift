import Foundation
import PostgresClient

/// The leader's scheduling step: for each periodic job, lock its row in
/// `queue.cron_schedules`, enqueue the due ticks and record the next fire time,
/// all in one transaction. A schedule an operator disabled enqueues nothing (its
/// next fire time still moves on, so enabling it does not catch up what it
/// skipped); an operator's "run now" request enqueues one job at once, disabled
/// or not.
struct CronScheduler: Sendable {
    let jobs: [PeriodicJob]
    let log: JobLog

    /// `updated_at` takes the inserted row's default, `now()`: Citus refuses functions in
    /// `DO UPDATE SET` on its reference table `queue.cron_schedules`.
    static let lockSchedule = """
        INSERT INTO queue.cron_schedules (name, expression, time_zone, kind, queue)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (name) DO UPDATE SET expression = EXCLUDED.expression, time_zone = EXCLUDED.time_zone,
            kind = EXCLUDED.kind, queue = EXCLUDED.queue, updated_at = EXCLUDED.updated_at
        RETURNING next_fire_at, enabled, run_requested_at
        """

    static let record = """
        UPDATE queue.cron_schedules SET last_fire_at = COALESCE($2, last_fire_at), next_fire_at = $3
        WHERE name = $1
        """

    /// Clears the run-now request just served; the row is locked since `lockSchedule`,
    /// so no newer request can have replaced it meanwhile.
    static let clearRunRequest = "UPDATE queue.cron_schedules SET run_requested_at = NULL WHERE name = $1"

    func tick(on database: PostgresPool, now: Date = Date()) async throws {
        for job in jobs {
            let (enqueued, skipped) = try await database.withTransaction { connection in
                try Self.schedule(job, now: now, on: connection)
            }
            if skipped > 0 {
                log.warning("periodic job missed ticks while no scheduler ran",
                            [("schedule", job.name), ("skipped", "\(skipped)"), ("policy", job.missedTicks.rawValue)])
            }
            for id in enqueued {
                log.info("periodic job enqueued", [("schedule", job.name), ("job_id", "\(id)")])
            }
        }
    }

    private static func schedule(_ job: PeriodicJob, now: Date, on connection: PostgresConnection) throws
        -> ([Int64], Int)
    {
        let row = try connection.query(
            lockSchedule,
            [job.name, job.schedule.expression, job.schedule.timeZone.identifier, job.request.kind, job.request.queue]
        ).first
        let storedNext = try row?.decode(0, as: Date?.self)
        let enabled = try row?.decode(1, as: Bool.self) ?? true
        let runRequestedAt = try row?.decode(2, as: Date?.self)
        var ids: [Int64] = []
        if let runRequestedAt {
            var request = job.request
            request.runAt = now
            request.uniqueKey = job.uniqueKey(forRunRequestedAt: runRequestedAt)
            request.uniqueScope = .always
            let result = try connection.enqueue(request)
            if result.inserted { ids.append(result.id) }
            try connection.execute(clearRunRequest, [job.name])
        }
        guard let first = storedNext else {
            // New schedule: start with the next fire time; nothing is "missed".
            try connection.execute(record, [job.name, Date?.none, job.schedule.nextFireTime(after: now)])
            return (ids, 0)
        }
        guard enabled else {
            if first <= now {
                try connection.execute(record, [job.name, Date?.none, job.schedule.nextFireTime(after: now)])
            }
            return (ids, 0)
        }
        let (fire, skipped, next) = job.due(from: first, now: now)
        for fireTime in fire {
            var request = job.request
            request.runAt = fireTime
            request.uniqueKey = job.uniqueKey(for: fireTime)
            request.uniqueScope = .always
            let result = try connection.enqueue(request)
            if result.inserted { ids.append(result.id) }
        }
        try connection.execute(record, [job.name, fire.last, next])
        return (ids, skipped)
    }
}
