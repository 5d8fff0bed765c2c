public import Foundation
public import PostgresClient

/// Everything a dashboard's front page shows, read in one statement so many watchers
/// can share one snapshot: per queue its waiting, running, scheduled, failed in the
/// last hour, done in the last minute, oldest wait and completions per minute over
/// the last half hour; the workers holding leases; the leaders.
public struct JobOverview: Sendable, Codable, Equatable {
    public struct Queue: Sendable, Codable, Equatable {
        public var name: String
        public var paused: Bool
        public var waiting: Int
        public var running: Int
        public var scheduled: Int
        public var failedLastHour: Int
        public var completedLastMinute: Int
        public var oldestWaitSeconds: Double?
        /// Completed jobs per minute, oldest minute first (`JobOverview.sparklineMinutes` values).
        public var completedPerMinute: [Int]
        /// False where the queue deletes its jobs when they complete: the completed
        /// figures above are then not known from rows (they read 0).
        public var keepsCompleted: Bool
    }

    public struct Worker: Sendable, Codable, Equatable {
        public var name: String
        public var queues: [String]
        public var runningJobs: Int
        /// When the last of its job leases runs out; nil while it runs nothing.
        public var leaseExpiresAt: Date?
        /// From the registry; nil for a lease holder that is not registered.
        public var host: String?
        public var pid: Int?
        public var startedAt: Date?
        public var seenAt: Date?
    }

    public struct Leader: Sendable, Codable, Equatable {
        public var service: String
        public var holder: String
        public var expiresAt: Date
    }

    public var takenAt: Date
    public var queues: [Queue]
    public var workers: [Worker]
    public var leaders: [Leader]

    public static let sparklineMinutes = 30

    static let statement = """
        WITH per_queue AS (
            SELECT queue,
                   count(*) FILTER (WHERE state IN \(JobState.sqlList([.available, .pending])))::int8 AS waiting,
                   count(*) FILTER (WHERE state = \(JobState.running.sql))::int8 AS running,
                   count(*) FILTER (WHERE state IN \(JobState.sqlList(JobState.waitingForTime)))::int8 AS scheduled,
                   count(*) FILTER (WHERE state = \(JobState.discarded.sql) AND finalized_at > now() - interval '1 hour')::int8 AS failed,
                   count(*) FILTER (WHERE state = \(JobState.completed.sql) AND finalized_at > now() - interval '1 minute')::int8 AS done,
                   EXTRACT(EPOCH FROM now() - min(run_at) FILTER (WHERE state = \(JobState.available.sql)))::float8 AS oldest
            FROM queue.jobs
            WHERE state <> ALL (ARRAY[\(JobState.completed.sql), \(JobState.discarded.sql), \(JobState.cancelled.sql)])
               OR finalized_at > now() - make_interval(mins => $1::int)
            GROUP BY queue
        ), minutes AS (
            SELECT queue, (EXTRACT(EPOCH FROM now() - finalized_at) / 60)::int AS ago, count(*)::int8 AS n
            FROM queue.jobs
            WHERE finalized_at > now() - make_interval(mins => $1::int) AND state = \(JobState.completed.sql)
            GROUP BY 1, 2
        ), names AS (SELECT queue AS name FROM per_queue UNION SELECT name FROM queue.queues
        ), spark AS (
            SELECT n.name, array_agg(COALESCE(m.n, 0) ORDER BY g DESC) AS per_minute
            FROM names AS n CROSS JOIN generate_series(0, $1::int - 1) AS g
            LEFT JOIN minutes AS m ON m.queue = n.name AND m.ago = g
            GROUP BY n.name
        )
        SELECT 'queue', n.name, COALESCE(q.paused, false), COALESCE(p.waiting, 0), COALESCE(p.running, 0),
               COALESCE(p.scheduled, 0), COALESCE(p.failed, 0), COALESCE(p.done, 0), p.oldest, s.per_minute,
               NULL::text[], NULL::timestamptz, NULL::text, NULL::timestamptz, NULL::timestamptz,
               COALESCE(q.keep_completed, true)
        FROM names AS n LEFT JOIN per_queue AS p ON p.queue = n.name LEFT JOIN queue.queues AS q ON q.name = n.name
        LEFT JOIN spark AS s ON s.name = n.name
        UNION ALL
        SELECT 'worker', COALESCE(w.id, l.leased_by), false, COALESCE(w.pid, 0)::int8, COALESCE(l.running, 0), 0, 0, 0,
               NULL, NULL, COALESCE(w.queues, l.queues), l.until, w.host, w.started_at, w.seen_at, true
        FROM (SELECT * FROM queue.workers WHERE expires_at > now()) AS w
        FULL JOIN (
            SELECT leased_by, count(*)::int8 AS running, array_agg(DISTINCT queue) AS queues, max(lease_expires_at) AS until
            FROM queue.jobs WHERE state = \(JobState.running.sql) AND leased_by IS NOT NULL GROUP BY leased_by
        ) AS l ON l.leased_by = w.id
        UNION ALL
        SELECT 'leader', name, false, 0, 0, 0, 0, 0, NULL, NULL, ARRAY[holder], expires_at, NULL, NULL, NULL, true
        FROM queue.leaders WHERE expires_at > now()
        ORDER BY 1, 2
        """

    /// Reads the overview on `connection` (one statement, in a transaction of its own).
    public static func read(on connection: PostgresConnection) throws -> JobOverview {
        var overview = JobOverview(takenAt: Date(), queues: [], workers: [], leaders: [])
        // JIT compilation would cost a monitoring read more than it saves (seen: 1.2 s on 20 000 jobs).
        let rows = try connection.withTransaction { connection in
            try connection.execute("SET LOCAL jit = off")
            return try connection.query(statement, [Int64(sparklineMinutes)]).rows
        }
        for row in rows {
            let (what, name, paused, waiting, running, scheduled, failed, done) = try row.decode(
                (String, String, Bool, Int64, Int64, Int64, Int64, Int64).self)
            let oldest = try row.decode(8, as: Double?.self)
            let perMinute = try row.decode(9, as: [Int64]?.self)
            let names = try row.decode(10, as: [String]?.self)
            let until = try row.decode(11, as: Date?.self)
            let (host, started, seen) = try (
                row.decode(12, as: String?.self), row.decode(13, as: Date?.self), row.decode(14, as: Date?.self))
            let keepsCompleted = try row.decode(15, as: Bool.self)
            switch what {
            case "queue":
                overview.queues.append(
                    Queue(
                        name: name, paused: paused, waiting: Int(waiting), running: Int(running),
                        scheduled: Int(scheduled), failedLastHour: Int(failed), completedLastMinute: Int(done),
                        oldestWaitSeconds: oldest.map { max(0, $0) }, completedPerMinute: (perMinute ?? []).map(Int.init),
                        keepsCompleted: keepsCompleted))
            case "worker":
                overview.workers.append(
                    Worker(
                        name: name, queues: names ?? [], runningJobs: Int(running), leaseExpiresAt: until, host: host,
                        pid: host == nil ? nil : Int(waiting), startedAt: started, seenAt: seen))
            default:
                overview.leaders.append(Leader(service: name, holder: names?.first ?? "", expiresAt: until ?? Date()))
            }
        }
        return overview
    }
}
