import PostgresClient

/// An operator's action on many jobs at once — the ones selected, or every job a
/// filter matches — applied in bounded batches, each its own short transaction, so
/// acting on a million jobs never holds one long transaction or all their locks.
/// Jobs not in a state the action applies to are left alone and not counted.
public enum JobBulkAction: String, Sendable, Codable, CaseIterable {
    /// Run again now: any state but running and available.
    case retry
    /// Cancel waiting jobs at once; ask running ones to stop (as `cancel(_:)` does).
    case cancel
    /// Delete any job that is not running.
    case delete
    /// Make a scheduled or retrying job available now.
    case runNow = "run_now"

    /// One batch: the next `$9` matching ids below the cursor `$8` (locked ones are
    /// skipped: a worker holds them), optionally only among `$10`; returns how many
    /// changed, the lowest id visited (the next cursor) and how many were visited.
    var batchStatement: String {
        let target = """
            SELECT j.id FROM queue.jobs AS j
            WHERE \(JobFilter.predicate) AND ($8::int8 IS NULL OR j.id < $8)
              AND ($10::int8[] IS NULL OR j.id = ANY($10::int8[])) AND j.state IN \(JobState.sqlList(eligible))
            ORDER BY j.id DESC LIMIT $9 FOR UPDATE SKIP LOCKED
            """
        let change: String
        switch self {
        case .retry:
            // A job whose unique key another unfinished job holds now is skipped.
            change = """
                UPDATE queue.jobs AS j SET state = \(JobState.available.sql), run_at = now(), finalized_at = NULL,
                    max_attempts = GREATEST(j.max_attempts, j.attempt + 1)
                FROM target WHERE j.id = target.id
                  AND NOT (j.unique_key IS NOT NULL AND j.unique_scope <> 'always' AND EXISTS (
                      SELECT 1 FROM queue.jobs AS other WHERE other.unique_key = j.unique_key AND other.id <> j.id
                        AND other.state IN \(JobState.sqlList(JobState.unfinished))))
                RETURNING j.queue
                """
        case .runNow:
            change = """
                UPDATE queue.jobs AS j SET state = \(JobState.available.sql), run_at = now()
                FROM target WHERE j.id = target.id RETURNING j.queue
                """
        case .cancel:
            change = """
                UPDATE queue.jobs AS j SET
                    state = CASE WHEN j.state = \(JobState.running.sql) THEN j.state ELSE \(JobState.cancelled.sql) END,
                    finalized_at = CASE WHEN j.state = \(JobState.running.sql) THEN NULL ELSE now() END,
                    cancel_requested_at = CASE WHEN j.state = \(JobState.running.sql) THEN now() ELSE j.cancel_requested_at END,
                    errors = CASE WHEN j.state = \(JobState.running.sql) THEN j.errors ELSE j.errors || jsonb_build_array(
                        jsonb_build_object('attempt', j.attempt, 'at', now(), 'error', 'cancelled by an operator')) END
                FROM target WHERE j.id = target.id RETURNING j.queue
                """
        case .delete:
            change = "DELETE FROM queue.jobs AS j USING target WHERE j.id = target.id RETURNING j.queue"
        }
        let wakes = self == .retry || self == .runNow
        return """
            WITH target AS MATERIALIZED (\(target)), changed AS (\(change))
            SELECT (SELECT count(*) FROM changed)::int8, (SELECT min(id) FROM target), (SELECT count(*) FROM target)::int8,
                   \(wakes ? JobChannel.notifyQueues(of: "changed") : "0")::int8
            """
    }

    var eligible: [JobState] {
        switch self {
        case .retry: JobState.allCases.filter { $0 != .running && $0 != .available }
        case .cancel: JobState.waiting + [.running]
        case .delete: JobState.allCases.filter { $0 != .running }
        case .runNow: JobState.waitingForTime
        }
    }
}

extension JobAdministration {
    /// Applies `action` to every job `filter` matches (and, when `ids` is given, only
    /// to those of them), newest first, `batchSize` jobs per transaction; returns how
    /// many changed. `progress` hears the running total after each batch.
    public func apply(
        _ action: JobBulkAction, matching filter: JobFilter, ids: [Int64]? = nil, batchSize: Int = 1_000,
        progress: @Sendable (Int) -> Void = { _ in }
    ) async throws -> Int {
        let statement = action.batchStatement
        let limit = Int64(max(1, min(batchSize, 50_000)))
        var cursor: Int64? = nil
        var changed = 0
        while true {
            let parameters = filter.parameters + [cursor, limit, ids]
            let row = try await database.withTransaction { connection in
                try connection.query(statement, parameters).first.map { try $0.decode((Int64, Int64?, Int64, Int64).self) }
            }
            guard let (count, lowest, visited, _) = row else { break }
            changed += Int(count)
            progress(changed)
            guard visited == limit, let lowest else { break }
            cursor = lowest
        }
        return changed
    }

    /// How many jobs `filter` matches.
    public func count(matching filter: JobFilter) async throws -> Int {
        let result = try await database.query(
            "SELECT count(*)::int8 FROM queue.jobs AS j WHERE \(JobFilter.predicate)", filter.parameters)
        return Int(try result.first?.decode(0, as: Int64.self) ?? 0)
    }

    /// One page of the jobs `filter` matches, newest first, by keyset: the jobs with an
    /// id below `before` (nil: from the newest). The next page starts below the last id.
    public func list(matching filter: JobFilter, before: Int64? = nil, limit: Int = 50) async throws -> [JobSummary] {
        let result = try await database.query(
            """
            SELECT \(Self.summaryColumns) FROM queue.jobs AS j
            WHERE \(JobFilter.predicate) AND ($8::int8 IS NULL OR j.id < $8)
            ORDER BY j.id DESC LIMIT $9
            """, filter.parameters + [before, Int64(max(1, min(limit, 1_000)))])
        return try result.rows.map(Self.summary)
    }
}
