import PostgresClient

/// Moves `pending` jobs on: a job whose dependencies all completed becomes runnable;
/// one whose dependency was discarded or cancelled is cancelled with that reason; a
/// batch callback runs once every job of its batch has finished, with the counts
/// merged into its arguments. Run by the leader each second.
///
/// Deadlines are checked one queue at a time (`JobMaintenance` says why). Dependencies
/// and batch callbacks join a job with jobs of any queue, which a Citus cluster cannot
/// do across shards: there they are refused at enqueue (`JobWorkflows`) and not looked for.
enum WorkflowResolver {
    static let resolveDependencies = """
        WITH waiting AS (
            SELECT p.id,
                   bool_and(d.id IS NULL OR d.state = \(JobState.completed.sql)) AS ready,
                   min(d.id) FILTER (WHERE d.state IN \(JobState.sqlList([.discarded, .cancelled]))) AS failed_dependency
            FROM queue.jobs AS p
            CROSS JOIN LATERAL unnest(p.depends_on) AS dependency(id)
            LEFT JOIN queue.jobs AS d ON d.id = dependency.id
            WHERE p.state = \(JobState.pending.sql) AND cardinality(p.depends_on) > 0
            GROUP BY p.id
        ), decided AS (
            SELECT id, failed_dependency FROM waiting WHERE ready OR failed_dependency IS NOT NULL LIMIT $1
        ), moved AS (
            UPDATE queue.jobs AS j SET
                state = CASE WHEN d.failed_dependency IS NOT NULL THEN \(JobState.cancelled.sql)
                             ELSE \(JobReadiness.state(runAt: "j.run_at")) END,
                finalized_at = CASE WHEN d.failed_dependency IS NOT NULL THEN now() END,
                errors = CASE WHEN d.failed_dependency IS NULL THEN j.errors
                    ELSE j.errors || jsonb_build_array(jsonb_build_object('attempt', j.attempt, 'at', now(),
                        'error', 'cancelled: dependency ' || d.failed_dependency || ' did not complete')) END
            FROM decided AS d
            WHERE j.id = d.id AND j.state = \(JobState.pending.sql)
            RETURNING j.queue, j.state
        )
        SELECT count(*)::int8, \(JobChannel.notifyQueues(of: "moved", where: "state = \(JobState.available.sql)"))::int8
        FROM moved
        """

    static let resolveBatchCallbacks = """
        WITH callbacks AS (
            SELECT c.id, c.callback_for_batch FROM queue.jobs AS c
            WHERE c.state = \(JobState.pending.sql) AND c.callback_for_batch IS NOT NULL
              AND NOT EXISTS (
                  SELECT 1 FROM queue.jobs AS b
                  WHERE b.batch_id = c.callback_for_batch
                    AND b.state NOT IN \(JobState.sqlList(JobState.final)))
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ), counted AS (
            SELECT c.id, jsonb_build_object(
                \(JobState.completed.sql), count(b.id) FILTER (WHERE b.state = \(JobState.completed.sql)),
                \(JobState.discarded.sql), count(b.id) FILTER (WHERE b.state = \(JobState.discarded.sql)),
                \(JobState.cancelled.sql), count(b.id) FILTER (WHERE b.state = \(JobState.cancelled.sql)),
                'total', count(b.id)) AS summary
            FROM callbacks AS c LEFT JOIN queue.jobs AS b ON b.batch_id = c.callback_for_batch
            GROUP BY c.id
        ), moved AS (
            UPDATE queue.jobs AS j SET
                state = \(JobReadiness.state(runAt: "j.run_at")),
                args = CASE WHEN jsonb_typeof(j.args) = 'object' THEN j.args ELSE '{}'::jsonb END
                       || jsonb_build_object('batch', counted.summary)
            FROM counted
            WHERE j.id = counted.id
            RETURNING j.queue, j.state
        )
        SELECT count(*)::int8, \(JobChannel.notifyQueues(of: "moved", where: "state = \(JobState.available.sql)"))::int8
        FROM moved
        """

    /// The queues holding waiting jobs past their deadline (among $1 of them).
    static let queuesWithExpiredDeadlines = """
        SELECT DISTINCT expired.queue FROM (
            SELECT queue FROM queue.jobs
            WHERE deadline_at < now() AND state IN \(JobState.sqlList(JobState.waiting))
            LIMIT $1
        ) AS expired
        """

    /// Jobs of queue $2 not started by their deadline are discarded as expired. The
    /// error entry is built on the locked rows (`JobMaintenance.rescue` says why).
    static let expireDeadlines = """
        WITH expired AS MATERIALIZED (
            SELECT id, jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', now(),
                'error', 'expired: not started by its deadline ' || deadline_at)) AS error_entry
            FROM queue.jobs
            WHERE queue = $2 AND deadline_at < now() AND state IN \(JobState.sqlList(JobState.waiting))
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE queue.jobs AS j SET
            state = \(JobState.discarded.sql), finalized_at = now(), errors = j.errors || expired.error_entry
        FROM expired
        WHERE j.queue = $2 AND j.id = expired.id
        """

    static let batchSize: Int64 = 1000

    /// Returns how many jobs changed state. `workflows`: whether jobs here can have
    /// dependencies and batches (`JobWorkflows.allowed`).
    static func resolve(on database: PostgresPool, workflows: Bool) async throws -> Int {
        var changed = 0
        let queues = try await database.query(queuesWithExpiredDeadlines, [batchSize]).rows
            .map { try $0.decode(0, as: String.self) }
        for queue in queues {
            changed += try await database.withConnection { try $0.execute(expireDeadlines, [batchSize, queue]) }
        }
        guard workflows else { return changed }
        for statement in [resolveDependencies, resolveBatchCallbacks] {
            let result = try await database.query(statement, [batchSize])
            changed += Int(try result.first?.decode(0, as: Int64.self) ?? 0)
        }
        return changed
    }
}
