import PostgresClient
import Foundation
import Synchronization

/// Writes attempt outcomes back in batches: while one statement is in flight, the
/// outcomes that finish meanwhile queue up and go together in the next — one round
/// trip for many jobs under load, no added delay when idle. Every row is fenced by
/// its lease, so batching does not weaken fencing.
actor JobAcknowledger {
    private let database: PostgresPool
    /// The worker whose claims these outcomes end: recorded with each error.
    private let workerID: String
    private let log: JobLog
    private let outage: DatabaseOutage
    private var pending: [JobOutcome] = []
    private var flushing = false
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    private let wake = WakeSignal()
    /// Outcomes submitted and not yet written, readable without awaiting the actor:
    /// producers stop claiming while it is above `maxBatch` (see `isBehind`).
    private let unwritten = Atomic<Int>(0)

    /// Outcomes refused because their lease was no longer current.
    private(set) var fencedCount = 0
    private(set) var appliedCount = 0

    static let maxBatch = 2000

    init(database: PostgresPool, workerID: String, log: JobLog, outage: DatabaseOutage) {
        self.database = database
        self.workerID = workerID
        self.log = log
        self.outage = outage
    }

    func submit(_ outcome: JobOutcome) {
        pending.append(outcome)
        unwritten.add(1, ordering: .relaxed)
        wake.signal()
    }

    /// More than a full batch waits to be written: the database is not keeping up.
    /// Claiming more would only grow the backlog, and finished jobs whose outcome is
    /// not written are not renewed by heartbeats, so a long backlog lets their leases
    /// lapse and the jobs run again.
    nonisolated var isBehind: Bool { unwritten.load(ordering: .relaxed) > Self.maxBatch }

    /// The flush loop; runs until cancelled, then writes what is left.
    func run() async {
        while !Task.isCancelled {
            if pending.isEmpty { await wake.wait(timeout: .seconds(1)) }
            await flushOnce()
        }
        await flushOnce()
    }

    /// Returns once everything submitted so far has been written (or `timeout` passed).
    func drain(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while (!pending.isEmpty || flushing) && ContinuousClock.now < deadline {
            await flushOnce()
            if flushing { try? await Task.sleep(for: .milliseconds(5)) }
        }
    }

    private func flushOnce() async {
        guard !flushing, !pending.isEmpty else { return }
        flushing = true
        defer { flushing = false }
        let batch = Array(pending.prefix(Self.maxBatch))
        pending.removeFirst(batch.count)
        var delay = Duration.milliseconds(100)
        while true {
            do {
                let applied = try await Self.write(batch, workerID: workerID, on: database, redact: log.redact)
                outage.answered()
                unwritten.subtract(batch.count, ordering: .relaxed)
                appliedCount += applied.count
                for outcome in batch where !applied.contains(outcome.lease.jobID) {
                    fencedCount += 1
                    log.warning(
                        "outcome rejected: lease no longer current",
                        [("job_id", "\(outcome.lease.jobID)"), ("lease_id", "\(outcome.lease.leaseID)")])
                }
                return
            } catch {
                // Keep the outcomes and try again: if the database stays away past the
                // lease, the jobs are rescued and these writes are fenced out harmlessly.
                if !outage.failed("writing job outcomes", error) {
                    log.error("writing job outcomes failed; retrying", [("jobs", "\(batch.count)"), ("error", "\(error)")])
                }
                if Task.isCancelled && delay > .seconds(2) {
                    unwritten.subtract(batch.count, ordering: .relaxed)
                    return
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private static func write(
        _ batch: [JobOutcome], workerID: String, on database: PostgresPool, redact: @Sendable (String) -> String
    ) async throws -> Set<Int64> {
        // Rows are locked in job id order, as the heartbeat locks them, so the two
        // batched UPDATEs do not deadlock over the same jobs.
        let byQueue = Dictionary(grouping: batch.sorted { $0.lease.jobID < $1.lease.jobID }, by: \.lease.queue)
        let statements = byQueue.sorted { $0.key < $1.key }.map { queue, outcomes in
            parameters(outcomes, queue: queue, workerID: workerID, redact: redact)
        }
        // Several queues: one transaction, so a retry after a failure never finds half
        // the batch already written (and reports it as fenced).
        let results: [PostgresResult]
        if statements.count == 1 {
            results = [try await database.query(JobAckStatements.finish, statements[0])]
        } else {
            results = try await database.withTransaction { connection in
                try statements.map { try connection.query(JobAckStatements.finish, $0) }
            }
        }
        return Set(try results.flatMap(\.rows).map { try $0.decode(0, as: Int64.self) })
    }

    private static func parameters(
        _ outcomes: [JobOutcome], queue: String, workerID: String, redact: @Sendable (String) -> String
    ) -> [any PostgresEncodable] {
        let columns = outcomes.map(\.columns)
        return [
            outcomes.map(\.lease.jobID), outcomes.map(\.lease.leaseID), columns.map(\.state.rawValue),
            columns.map { $0.error.map(redact) }, columns.map(\.runAtMicroseconds), queue,
            outcomes.map { Int32($0.attempt) }, workerID,
        ]
    }
}

enum JobAckStatements {
    /// Applies many outcomes at once. A row changes only if it is still running under
    /// the same lease (fencing, `stillLeased`). Errors are appended to the job's history with the
    /// attempt and worker; a snooze or release gives the attempt back; a due retry
    /// goes straight to `available`. One statement per queue ($6): on a Citus
    /// cluster it then runs on that queue's shard alone.
    ///
    /// Every value that needs the clock (`now()`, the readiness rule, a timestamp from
    /// microseconds) or a JSON builder is computed in the `outcome` list, not in the
    /// `SET` list: Citus refuses an `UPDATE` whose `SET` calls a non-immutable function
    /// inside `CASE`/`COALESCE` or with a column of the table. The list is
    /// `MATERIALIZED` so the planner does not fold it back into the `SET` list; it
    /// still runs on the shard's node, inside the routed statement. The error entry's
    /// attempt and worker ($7, $8) are the claim's, which the lease match makes the
    /// row's.
    ///
    /// A completion on a queue that deletes its completed jobs (`keep_completed`)
    /// deletes the row instead, unless something still needs it (`completedRowNeeded`):
    /// the outcome list decides the queue's part once per batch, the `DELETE` takes
    /// those rows and the `UPDATE` every other one, so the two never touch the same row.
    /// Both are fenced alike: a row rescued and completed (and deleted) by another
    /// worker matches neither, so a stale outcome is refused, never written back. Each
    /// locks its rows in job id order; a heartbeat never renews a job whose outcome is
    /// waiting here, and a deadlock with anything else fails the whole statement, which
    /// the acknowledger retries.
    static let finish = """
        WITH outcome AS MATERIALIZED (
            SELECT a.id, a.lease_id,
                CASE WHEN a.state IN \(JobState.sqlList(JobState.waitingForTime))
                    THEN \(JobReadiness.state(runAt: "timestamptz 'epoch' + a.run_at_us * interval '1 microsecond'", waiting: "a.state"))
                    ELSE a.state END AS state,
                timestamptz 'epoch' + a.run_at_us * interval '1 microsecond' AS run_at,
                CASE WHEN a.state = \(JobState.scheduled.sql) THEN 1 ELSE 0 END AS attempt_given_back,
                CASE WHEN a.state IN \(JobState.sqlList(JobState.final)) THEN now() END AS finalized_at,
                CASE WHEN a.error IS NOT NULL THEN jsonb_build_array(jsonb_build_object(
                    'attempt', a.attempt, 'at', now(), 'error', a.error, 'worker', $8::text)) END AS error_entry,
                a.state = \(JobState.completed.sql) AND \(queueDeletesCompleted("$6")) AS completed_in_deleting_queue
            FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::int8[], $7::int4[])
                 AS a(id, lease_id, state, error, run_at_us, attempt)
        ), deleted AS (
            DELETE FROM queue.jobs AS j USING outcome AS o
            WHERE j.queue = $6 AND j.id = o.id AND \(stillLeased("j", by: "o"))
              AND \(completionDeletesRow(completedInDeletingQueue: "o.completed_in_deleting_queue", "j"))
            RETURNING j.id
        ), updated AS (
            UPDATE queue.jobs AS j SET
                state = o.state,
                run_at = COALESCE(o.run_at, j.run_at),
                attempt = j.attempt - o.attempt_given_back,
                finalized_at = o.finalized_at,
                errors = CASE WHEN o.error_entry IS NULL THEN j.errors ELSE j.errors || o.error_entry END,
                lease_id = NULL,
                lease_expires_at = NULL
            FROM outcome AS o
            WHERE j.queue = $6 AND j.id = o.id AND \(stillLeased("j", by: "o"))
              AND NOT \(completionDeletesRow(completedInDeletingQueue: "o.completed_in_deleting_queue", "j"))
            RETURNING j.id
        )
        SELECT id FROM deleted UNION ALL SELECT id FROM updated
        """

    /// Whether job `j` still runs under the lease of batch entry `entry` (same job id):
    /// the lease ids match and the lease has an expiry, which with the lease id matching
    /// the `running_has_lease` constraint makes the same as `state = 'running'`.
    ///
    /// Both tests are written as clauses of the join, never as a filter on the job table
    /// alone, because of what the planner makes of the table's statistics: an ANALYZE
    /// taken while every job waited (a backlog just enqueued) says no row is running. As
    /// `state = 'running'`, the planner drove the statement from the partial index on
    /// running rows; as `j.lease_expires_at IS NOT NULL`, it scanned the table for the
    /// "one" leased row and joined each leased row against the whole materialized batch —
    /// quadratic: 1.2–2.3 s for an outcome batch of 1 735 against 4 000 running jobs
    /// (custom plan, a statement's first executions on a connection), which stalled
    /// processing for seconds. `OR entry.id IS NULL` is never true (an entry's id equals
    /// the job's) and only makes the expiry test a join clause, estimated as such: the plan
    /// is then a hash join or primary-key lookups per entry (10–20 ms for that batch).
    static func stillLeased(_ j: String, by entry: String) -> String {
        "\(j).lease_id = \(entry).lease_id AND (\(j).lease_expires_at IS NOT NULL OR \(entry).id IS NULL)"
    }

    /// Completes one job inside a handler's own transaction (fenced), deleting it
    /// where its queue deletes completed jobs, like `finish`. Returns how many rows
    /// it completed: 0 when the lease was lost.
    static let completeOne = """
        WITH deleted AS (
            DELETE FROM queue.jobs AS j
            WHERE j.queue = $3 AND j.id = $1 AND j.lease_id = $2 AND j.state = \(JobState.running.sql)
              AND \(completionDeletesRow(completedInDeletingQueue: queueDeletesCompleted("$3"), "j"))
            RETURNING j.id
        ), updated AS (
            UPDATE queue.jobs AS j SET state = \(JobState.completed.sql), finalized_at = now(), lease_id = NULL,
                lease_expires_at = NULL
            WHERE j.queue = $3 AND j.id = $1 AND j.lease_id = $2 AND j.state = \(JobState.running.sql)
              AND NOT \(completionDeletesRow(completedInDeletingQueue: queueDeletesCompleted("$3"), "j"))
            RETURNING j.id
        )
        SELECT count(*)::int8 FROM (SELECT id FROM deleted UNION ALL SELECT id FROM updated) AS applied
        """

    /// Whether the queue named by the parameter `queue` deletes its completed jobs
    /// (`keep_completed`, set by `jobsctl queues completed`); a queue without a
    /// settings row keeps them. Never NULL, so its negation is the complement.
    static func queueDeletesCompleted(_ queue: String) -> String {
        "EXISTS (SELECT 1 FROM queue.queues AS q WHERE q.name = \(queue) AND NOT q.keep_completed)"
    }

    /// Whether a completion deletes job `j`'s row instead of keeping it `completed`: it
    /// completed on a queue that deletes completed jobs (the expression given) and
    /// nothing still needs the row. Never NULL, so `NOT` of it takes every other outcome:
    /// the `DELETE` and the `UPDATE` of one statement never touch the same row.
    static func completionDeletesRow(completedInDeletingQueue: String, _ j: String) -> String {
        "(\(completedInDeletingQueue) AND NOT \(completedRowNeeded(j)))"
    }

    /// Whether job `j`'s row is still read after it completed, so it is kept even where
    /// its queue deletes completed jobs: a batch member (the batch's callback counts its
    /// members by state) or a job whose unique key is kept `always` (the row is the key).
    /// A job's dependents do not need it: the leader releases a dependent whose
    /// dependency no longer exists as if it had completed (`WorkflowResolver`, the rule
    /// that already lets retention prune completed dependencies), and only failed
    /// dependencies, whose rows are always kept, cancel it. Never NULL.
    static func completedRowNeeded(_ j: String) -> String {
        "(\(j).batch_id IS NOT NULL OR (\(j).unique_key IS NOT NULL AND \(j).unique_scope = '\(UniqueScope.always.rawValue)'))"
    }
}
