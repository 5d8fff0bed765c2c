public import Foundation
public import PostgresClient

/// What operators do to jobs and queues (the admin CLI is a thin layer over this).
public struct JobAdministration: Sendable {
    public let database: PostgresPool

    public init(database: PostgresPool) {
        self.database = database
    }

    // MARK: Jobs

    public struct JobSummary: Sendable, Codable, Equatable {
        public var id: Int64
        public var kind: String
        public var queue: String
        public var state: JobState
        public var priority: Int
        public var attempt: Int
        public var maxAttempts: Int
        public var runAt: Date
        public var createdAt: Date
        public var finalizedAt: Date?
    }

    public struct AttemptError: Sendable, Codable, Equatable {
        public var attempt: Int
        public var at: String
        public var error: String
        public var worker: String?
    }

    public struct JobDetail: Sendable, Codable, Equatable {
        public var job: JobSummary
        public var arguments: String
        public var tags: [String]
        public var uniqueKey: String?
        public var errors: [AttemptError]
        public var attemptedAt: Date?
        public var leasedBy: String?
        public var leaseExpiresAt: Date?
        public var deadline: Date?
        public var dependsOn: [Int64]
        public var batchID: String?
    }

    static let summaryColumns = """
        id, kind, queue, state, priority::int8, attempt::int8, max_attempts::int8, run_at, created_at, finalized_at
        """

    static func summary(_ row: PostgresRow) throws -> JobSummary {
        let (id, kind, queue, state, priority, attempt, maxAttempts, runAt, createdAt, finalizedAt) = try row.decode(
            (Int64, String, String, String, Int64, Int64, Int64, Date, Date, Date?).self)
        return JobSummary(
            id: id, kind: kind, queue: queue, state: try JobState(column: state), priority: Int(priority), attempt: Int(attempt),
            maxAttempts: Int(maxAttempts), runAt: runAt, createdAt: createdAt, finalizedAt: finalizedAt)
    }

    /// Newest first; every filter optional.
    public func list(state: JobState? = nil, queue: String? = nil, kind: String? = nil, limit: Int = 50) async throws
        -> [JobSummary]
    {
        let result = try await database.query(
            """
            SELECT \(Self.summaryColumns) FROM queue.jobs
            WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR queue = $2) AND ($3::text IS NULL OR kind = $3)
            ORDER BY id DESC LIMIT $4
            """, [state?.rawValue, queue, kind, Int64(max(1, min(limit, 10_000)))])
        return try result.rows.map(Self.summary)
    }

    public func show(_ id: Int64) async throws -> JobDetail? {
        let result = try await database.query(
            """
            SELECT \(Self.summaryColumns), args::text, tags, unique_key, errors::text, attempted_at, leased_by,
                   lease_expires_at, deadline_at, depends_on, batch_id
            FROM queue.jobs WHERE id = $1
            """, [id])
        guard let row = result.first else { return nil }
        let errorsJSON = try row.decode(13, as: String.self)
        return JobDetail(
            job: try Self.summary(row), arguments: try row.decode(10, as: String.self),
            tags: try row.decode(11, as: [String].self), uniqueKey: try row.decode(12, as: String?.self),
            errors: (try? JSONDecoder().decode([AttemptError].self, from: Data(errorsJSON.utf8))) ?? [],
            attemptedAt: try row.decode(14, as: Date?.self), leasedBy: try row.decode(15, as: String?.self),
            leaseExpiresAt: try row.decode(16, as: Date?.self), deadline: try row.decode(17, as: Date?.self),
            dependsOn: try row.decode(18, as: [Int64].self), batchID: try row.decode(19, as: String?.self))
    }

    public enum ChangeResult: Sendable, Equatable {
        case done
        case notFound
        /// The job's state does not allow it; the associated value is that state.
        case refused(state: JobState)
        /// A running job was asked to stop; its worker cancels it at the next heartbeat.
        case requested
        /// Retrying would give the job back a unique key another job holds now.
        case uniqueKeyTaken
    }

    /// Runs a job again now: from any state but running, with at least one attempt left.
    public func retry(_ id: Int64) async throws -> ChangeResult {
        do {
            return try await retryChange(id)
        } catch let error as PostgresError where error.isUniqueViolation {
            return .uniqueKeyTaken
        }
    }

    private func retryChange(_ id: Int64) async throws -> ChangeResult {
        try await change(id, refusing: [.running, .available]) { connection, queue in
            try connection.execute(Self.retryOne, [queue, id])
            try connection.execute(JobChannel.notify, [queue])
        }
    }

    /// Retries every discarded job of a kind; returns how many.
    public func retryDiscarded(kind: String) async throws -> Int {
        try await database.withTransaction { connection in
            let result = try connection.query(Self.retryDiscardedOfKind, [kind])
            return Int(try result.first?.decode(0, as: Int64.self) ?? 0)
        }
    }

    /// Cancels a waiting job at once; a running one is asked to stop (cooperatively:
    /// its handler is cancelled at the worker's next heartbeat).
    public func cancel(_ id: Int64) async throws -> ChangeResult {
        try await database.withTransaction { connection in
            guard let (queue, state) = try Self.lockedState(id, connection) else { return .notFound }
            if state.isFinal { return .refused(state: state) }
            if state == .running {
                try connection.execute(
                    "UPDATE queue.jobs SET cancel_requested_at = now() WHERE queue = $1 AND id = $2", [queue, id])
                return .requested
            }
            try connection.execute(Self.cancelOne, [queue, id])
            return .done
        }
    }

    /// Cancels one waiting job (its state was checked under the row lock). The error
    /// entry is built in `entry`: Citus refuses JSON builders on the table's columns in
    /// an `UPDATE`'s `SET` list.
    static let cancelOne = """
        WITH entry AS MATERIALIZED (
            SELECT id, jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', now(),
                'error', 'cancelled by an operator')) AS error
            FROM queue.jobs WHERE queue = $1 AND id = $2
        )
        UPDATE queue.jobs AS j SET state = \(JobState.cancelled.sql), finalized_at = now(), errors = j.errors || entry.error
        FROM entry WHERE j.queue = $1 AND j.id = entry.id
        """

    /// Deletes a job that is not running (cancel a running one first).
    public func delete(_ id: Int64) async throws -> ChangeResult {
        try await change(id, refusing: [.running]) { connection, queue in
            try connection.execute("DELETE FROM queue.jobs WHERE queue = $1 AND id = $2", [queue, id])
        }
    }

    private func change(
        _ id: Int64, refusing states: Set<JobState>,
        _ body: @escaping @Sendable (_ connection: PostgresConnection, _ queue: String) throws -> Void
    ) async throws -> ChangeResult {
        try await database.withTransaction { connection in
            guard let (queue, state) = try Self.lockedState(id, connection) else { return .notFound }
            if states.contains(state) { return .refused(state: state) }
            try body(connection, queue)
            return .done
        }
    }

    /// The job's queue and its state under a row lock. The job is found by id first (a
    /// read of every shard on a Citus cluster), then locked by queue and id: Citus locks
    /// rows only in a statement routed to one shard, and a job never changes queue.
    private static func lockedState(_ id: Int64, _ connection: PostgresConnection) throws
        -> (queue: String, state: JobState)?
    {
        guard let queue = try connection.query("SELECT queue FROM queue.jobs WHERE id = $1", [id]).first?
            .decode(0, as: String.self)
        else { return nil }
        return try connection.query("SELECT state FROM queue.jobs WHERE queue = $1 AND id = $2 FOR UPDATE", [queue, id])
            .first.map { (queue, try JobState(column: try $0.decode(0, as: String.self))) }
    }

    /// Runs one job of queue $1 again now (its state was checked under the row lock);
    /// the caller wakes the queue with `JobChannel.notify`, in the same transaction.
    static let retryOne = """
        UPDATE queue.jobs SET state = \(JobState.available.sql), run_at = now(), finalized_at = NULL,
            max_attempts = GREATEST(max_attempts, attempt + 1)
        WHERE queue = $1 AND id = $2
        """

    static let retryDiscardedOfKind = """
        WITH retried AS (
            UPDATE queue.jobs SET state = \(JobState.available.sql), run_at = now(), finalized_at = NULL,
                max_attempts = GREATEST(max_attempts, attempt + 1)
            WHERE state = \(JobState.discarded.sql) AND kind = $1
            RETURNING queue
        )
        SELECT count(*)::int8, \(JobChannel.notifyQueues(of: "retried"))::int8
        FROM retried
        """

    // MARK: Queues

    public struct QueueSummary: Sendable, Codable, Equatable {
        public var name: String
        public var paused: Bool
        public var concurrencyLimit: Int?
        public var priorityAgingSeconds: Int?
        /// False where the queue deletes its jobs when they complete (`setKeepCompleted`).
        public var keepCompleted: Bool
        public var available: Int
        public var running: Int
        public var scheduled: Int
    }

    /// Every queue with settings or unfinished jobs. The counts are one pass over the
    /// unfinished jobs grouped by queue (on a Citus cluster: per shard, then merged).
    public func queues() async throws -> [QueueSummary] {
        let result = try await database.query(
            """
            WITH counts AS (
                SELECT queue,
                       count(*) FILTER (WHERE state = \(JobState.available.sql)) AS available,
                       count(*) FILTER (WHERE state = \(JobState.running.sql)) AS running,
                       count(*) FILTER (WHERE state IN \(JobState.sqlList([.scheduled, .retryable, .pending]))) AS waiting
                FROM queue.jobs WHERE state IN \(JobState.sqlList(JobState.unfinished))
                GROUP BY queue
            ), names AS (SELECT name FROM queue.queues UNION SELECT queue FROM counts)
            SELECT n.name, COALESCE(q.paused, false), q.concurrency_limit::int8, q.priority_aging_seconds::int8,
                   COALESCE(q.keep_completed, true), COALESCE(c.available, 0)::int8, COALESCE(c.running, 0)::int8, COALESCE(c.waiting, 0)::int8
            FROM names AS n LEFT JOIN queue.queues AS q ON q.name = n.name LEFT JOIN counts AS c ON c.queue = n.name
            ORDER BY n.name
            """)
        return try result.rows.map { row in
            let (name, paused, limit, aging, keepCompleted, available, running, scheduled) = try row.decode(
                (String, Bool, Int64?, Int64?, Bool, Int64, Int64, Int64).self)
            return QueueSummary(
                name: name, paused: paused, concurrencyLimit: limit.map(Int.init),
                priorityAgingSeconds: aging.map(Int.init), keepCompleted: keepCompleted, available: Int(available), running: Int(running),
                scheduled: Int(scheduled))
        }
    }

    // The settings below set `updated_at` to the inserted row's default, `now()`: Citus
    // refuses functions in `DO UPDATE SET` on its reference table `queue.queues`.

    /// Pausing holds for every worker process at its next claim; resuming wakes them.
    public func setPaused(_ queue: String, _ paused: Bool) async throws {
        _ = try await database.withTransaction { connection in
            try connection.execute(
                """
                INSERT INTO queue.queues (name, paused) VALUES ($1, $2)
                ON CONFLICT (name) DO UPDATE SET paused = EXCLUDED.paused, updated_at = EXCLUDED.updated_at
                """, [queue, paused])
            if !paused { try connection.notify(JobChannel.name, payload: queue) }
        }
    }

    /// Most jobs of `queue` running at once across all worker processes (nil: no limit).
    public func setConcurrencyLimit(_ queue: String, _ limit: Int?) async throws {
        _ = try await database.query(
            """
            INSERT INTO queue.queues (name, concurrency_limit) VALUES ($1, $2::int4)
            ON CONFLICT (name) DO UPDATE SET concurrency_limit = EXCLUDED.concurrency_limit, updated_at = EXCLUDED.updated_at
            """, [queue, limit.map { Int64($0) }])
    }

    public func setPriorityAging(_ queue: String, seconds: Int?) async throws {
        _ = try await database.query(
            """
            INSERT INTO queue.queues (name, priority_aging_seconds) VALUES ($1, $2::int4)
            ON CONFLICT (name) DO UPDATE SET priority_aging_seconds = EXCLUDED.priority_aging_seconds,
                updated_at = EXCLUDED.updated_at
            """, [queue, seconds.map { Int64($0) }])
    }

    /// Whether `queue`'s completed jobs are kept as `completed` rows until retention
    /// prunes them (the default) or deleted when they complete. Every worker process
    /// follows the change from its next acknowledgement: the completion statements read
    /// the setting themselves. A deleted job no longer appears in `jobs` lists or in the
    /// completed counts read from rows (`stats`); the workers' metrics still count it.
    public func setKeepCompleted(_ queue: String, _ keep: Bool) async throws {
        _ = try await database.query(
            """
            INSERT INTO queue.queues (name, keep_completed) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE SET keep_completed = EXCLUDED.keep_completed, updated_at = EXCLUDED.updated_at
            """, [queue, keep])
    }

    // MARK: Statistics

    public struct QueueStatistics: Sendable, Codable, Equatable {
        public var queue: String
        public var counts: [String: Int]
        public var completedLastMinute: Int
        public var completedLastHour: Int
        /// Jobs discarded (failed for good) in the last hour; retrying ones are in `counts`.
        public var failedLastHour: Int
        /// Seconds the oldest runnable job has been waiting; nil when none waits.
        public var oldestAvailableAgeSeconds: Double?
        /// False where the queue deletes its jobs when they complete (`setKeepCompleted`):
        /// its completed counts are then not known from rows (they read 0); the workers'
        /// metric `queue_worker_jobs_total` counts them.
        public var keepsCompleted: Bool
    }

    public func statistics() async throws -> [QueueStatistics] {
        let result = try await database.query(
            """
            SELECT j.queue, j.state, count(*)::int8,
                   (count(*) FILTER (WHERE j.state = \(JobState.completed.sql) AND j.finalized_at > now() - interval '1 minute'))::int8,
                   (count(*) FILTER (WHERE j.state = \(JobState.completed.sql) AND j.finalized_at > now() - interval '1 hour'))::int8,
                   (count(*) FILTER (WHERE j.state = \(JobState.discarded.sql) AND j.finalized_at > now() - interval '1 hour'))::int8,
                   EXTRACT(EPOCH FROM now() - min(j.run_at) FILTER (WHERE j.state = \(JobState.available.sql)))::float8,
                   COALESCE(q.keep_completed, true)
            FROM queue.jobs AS j LEFT JOIN queue.queues AS q ON q.name = j.queue
            GROUP BY j.queue, j.state, q.keep_completed ORDER BY j.queue, j.state
            """)
        var byQueue: [String: QueueStatistics] = [:]
        for row in result.rows {
            let (queue, state, count, minute, hour, failed, oldest, keeps) = try row.decode(
                (String, String, Int64, Int64, Int64, Int64, Double?, Bool).self)
            var stats = byQueue[queue] ?? QueueStatistics(
                queue: queue, counts: [:], completedLastMinute: 0, completedLastHour: 0, failedLastHour: 0,
                oldestAvailableAgeSeconds: nil, keepsCompleted: keeps)
            stats.counts[state] = Int(count)
            stats.completedLastMinute += Int(minute)
            stats.completedLastHour += Int(hour)
            stats.failedLastHour += Int(failed)
            if let oldest { stats.oldestAvailableAgeSeconds = max(0, oldest) }
            byQueue[queue] = stats
        }
        return byQueue.values.sorted { $0.queue < $1.queue }
    }

    // MARK: Periodic jobs

    public struct ScheduleSummary: Sendable, Codable, Equatable {
        public var name: String
        public var expression: String
        public var timeZone: String
        public var kind: String
        public var queue: String
        public var lastFireAt: Date?
        public var nextFireAt: Date?
        /// False while an operator has switched the schedule off.
        public var enabled: Bool
        /// An operator's "run now" that the leader has not served yet.
        public var runRequestedAt: Date?
    }

    public func schedules() async throws -> [ScheduleSummary] {
        try await database.query(
            """
            SELECT name, expression, time_zone, kind, queue, last_fire_at, next_fire_at, enabled, run_requested_at
            FROM queue.cron_schedules ORDER BY name
            """
        ).rows.map { row in
            let (name, expression, zone, kind, queue, last, next, enabled, requested) = try row.decode(
                (String, String, String, String, String, Date?, Date?, Bool, Date?).self)
            return ScheduleSummary(
                name: name, expression: expression, timeZone: zone, kind: kind, queue: queue, lastFireAt: last,
                nextFireAt: next, enabled: enabled, runRequestedAt: requested)
        }
    }

    /// Switches a periodic job on or off; the leader honours it at its next tick.
    /// False when no schedule has that name.
    public func setScheduleEnabled(_ name: String, _ enabled: Bool) async throws -> Bool {
        try await database.query(
            "UPDATE queue.cron_schedules SET enabled = $2, updated_at = now() WHERE name = $1", [name, enabled]
        ).affectedRows == 1
    }

    /// Asks the leader to enqueue the periodic job once now, besides its schedule
    /// (requests made before the leader's next tick count as one). False when no
    /// schedule has that name.
    public func requestScheduleRun(_ name: String) async throws -> Bool {
        try await database.query(
            "UPDATE queue.cron_schedules SET run_requested_at = now() WHERE name = $1", [name]
        ).affectedRows == 1
    }
}
