public import PostgresClient
import Foundation

/// What enqueueing one request produced.
public struct EnqueueResult: Sendable, Equatable {
    public var id: Int64
    /// False when a job with the same unique key already existed; `id` is that job.
    public var inserted: Bool
}

extension PostgresConnection {
    /// Enqueues one job on this connection — inside the caller's transaction when one
    /// is open, so the job exists if and only if the caller's own rows commit.
    @discardableResult
    public func enqueue(_ request: JobRequest) throws -> EnqueueResult {
        try request.validateForEnqueue()
        let result = try query(
            JobEnqueueStatements.insertOne,
            [
                request.kind, request.queue, request.argumentsJSON, Int64(request.priority),
                request.runAt.map(JobTime.microseconds), Int64(request.maxAttempts), request.tags, request.uniqueKey,
                request.uniqueScope.rawValue, request.deadline.map(JobTime.microseconds), request.dependsOn,
                request.batchID, request.callbackForBatch,
            ])
        if let row = result.first { return EnqueueResult(id: try row.decode(0, as: Int64.self), inserted: true) }
        return EnqueueResult(id: try holders(of: [request])[0], inserted: false)
    }

    /// Enqueues many jobs in one statement (tested with 10 000+ per call); results are
    /// in the order of `requests`. Idle workers are woken by one NOTIFY per queue,
    /// delivered when the transaction commits.
    public func enqueue(_ requests: [JobRequest]) throws -> [EnqueueResult] {
        guard !requests.isEmpty else { return [] }
        for request in requests { try request.validateForEnqueue() }
        // Per-job lists travel as array literals in a text array (NULL when empty): an
        // array of arrays must be rectangular, and parsing a literal is a cast, not a
        // sub-query per row.
        let tags = requests.map { $0.tags.isEmpty ? nil : PostgresArrayLiteral.text($0.tags) }
        let dependencies = requests.map { $0.dependsOn.isEmpty ? nil : PostgresArrayLiteral.integers($0.dependsOn) }
        let result = try query(
            JobEnqueueStatements.insert,
            [
                requests.map(\.kind), requests.map(\.queue), requests.map(\.argumentsJSON),
                requests.map { Int64($0.priority) }, requests.map { $0.runAt.map(JobTime.microseconds) },
                requests.map { Int64($0.maxAttempts) }, tags, requests.map(\.uniqueKey),
                requests.map(\.uniqueScope.rawValue), requests.map { $0.deadline.map(JobTime.microseconds) },
                dependencies, requests.map(\.batchID), requests.map(\.callbackForBatch),
            ])
        var results = [EnqueueResult?](repeating: nil, count: requests.count)
        for row in result.rows {
            let (ordinal, id) = try row.decode((Int64, Int64?).self)
            if let id { results[Int(ordinal) - 1] = EnqueueResult(id: id, inserted: true) }
        }
        // Jobs not inserted lost a unique-key conflict: report the job holding the key.
        let missing = results.indices.filter { results[$0] == nil }
        for (index, holder) in zip(missing, try holders(of: missing.map { requests[$0] })) {
            results[index] = EnqueueResult(id: holder, inserted: false)
        }
        return results.map { $0! }
    }
}

extension PostgresConnection {
    /// The jobs holding the unique keys of `requests`, which lost a conflict on them.
    fileprivate func holders(of requests: [JobRequest]) throws -> [Int64] {
        guard !requests.isEmpty else { return [] }
        var holders: [String: Int64] = [:]
        for row in try query(JobEnqueueStatements.uniqueHolders, [requests.compactMap(\.uniqueKey)]).rows {
            let (key, id) = try row.decode((String, Int64).self)
            holders[key] = id
        }
        return try requests.map { request in
            guard let key = request.uniqueKey, let id = holders[key] else {
                throw PostgresError(kind: .client, message: "a job was not inserted and no job holds its unique key")
            }
            return id
        }
    }
}

enum JobEnqueueStatements {
    /// The states in which a job holds its unique key, per scope (the predicate of
    /// the partial unique index `jobs_unique_key_idx`). The inserts say
    /// `ON CONFLICT DO NOTHING` without naming that index: on one server it is
    /// `(unique_key)`, on a Citus cluster `(queue, unique_key)` (sql/citus), and the
    /// same statements serve both; ids come from a sequence, so the primary key
    /// never conflicts.
    static let holdsUniqueKey = """
        unique_key IS NOT NULL AND (
            unique_scope = 'always' OR state IN \(JobState.sqlList(JobState.unfinished)))
        """

    /// A new job's state, the same rule for both insert statements: waiting on
    /// dependencies or a batch, else as `JobReadiness` says (`run_at` in scope).
    private static func initialState(dependencies: String, callback: String) -> String {
        """
        CASE WHEN cardinality(\(dependencies)) > 0 OR \(callback) IS NOT NULL THEN \(JobState.pending.sql)
                        ELSE \(JobReadiness.state(runAt: "run_at")) END
        """
    }

    /// One row per request (arrays zipped by `unnest`). Ids are drawn from the
    /// identity sequence up front so each result maps back to its request. A unique
    /// key already taken skips the row (`ON CONFLICT DO NOTHING`); the caller then
    /// looks the holder up. The NOTIFY rides in the same statement: one per queue
    /// that got runnable work, sent at commit, never one per row.
    static let insert = """
        WITH input AS (
            SELECT i.*, nextval('queue.jobs_id_seq') AS id
            FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::text[],
                        $8::text[], $9::text[], $10::int8[], $11::text[], $12::text[], $13::text[])
                 WITH ORDINALITY AS i(kind, queue, args, priority, run_at_us, max_attempts, tags, unique_key,
                                      unique_scope, deadline_us, depends_on, batch_id, callback_for_batch, ordinal)
        ), timed AS (
            SELECT input.*,
                   COALESCE(timestamptz 'epoch' + run_at_us * interval '1 microsecond', now()) AS run_at,
                   COALESCE(depends_on::int8[], '{}') AS dependencies
            FROM input
        ), inserted AS (
            INSERT INTO queue.jobs (id, kind, queue, args, priority, run_at, max_attempts, tags, unique_key,
                                    unique_scope, deadline_at, depends_on, batch_id, callback_for_batch, state)
            OVERRIDING SYSTEM VALUE
            SELECT id, kind, queue, args::jsonb, priority::int2, run_at, max_attempts::int4,
                   COALESCE(tags::text[], '{}'), unique_key, unique_scope,
                   timestamptz 'epoch' + deadline_us * interval '1 microsecond', dependencies, batch_id,
                   callback_for_batch,
                   \(initialState(dependencies: "dependencies", callback: "callback_for_batch"))
            FROM timed
            ORDER BY ordinal
            ON CONFLICT DO NOTHING
            RETURNING id, queue, state
        ), woken AS (
            SELECT \(JobChannel.notifyQueues(of: "inserted", where: "state = \(JobState.available.sql)")) AS n
        )
        SELECT input.ordinal, inserted.id
        FROM input LEFT JOIN inserted ON inserted.id = input.id
        CROSS JOIN woken
        """

    /// One job, the common case (an app enqueueing as things happen): plain scalar
    /// parameters, so PostgreSQL settles on a generic plan instead of planning the
    /// array statement every call. Same rules as `insert`; no row back means the
    /// unique key is taken.
    static let insertOne = """
        WITH input AS (
            SELECT COALESCE(timestamptz 'epoch' + $5::int8 * interval '1 microsecond', now()) AS run_at
        ), inserted AS (
            INSERT INTO queue.jobs (kind, queue, args, priority, run_at, max_attempts, tags, unique_key,
                                    unique_scope, deadline_at, depends_on, batch_id, callback_for_batch, state)
            SELECT $1::text, $2::text, $3::text::jsonb, $4::int2, run_at, $6::int4, $7::text[], $8::text, $9::text,
                   timestamptz 'epoch' + $10::int8 * interval '1 microsecond', $11::int8[], $12::text, $13::text,
                   \(initialState(dependencies: "$11::int8[]", callback: "$13::text"))
            FROM input
            ON CONFLICT DO NOTHING
            RETURNING id, queue, state
        )
        SELECT id, \(JobChannel.notifyQueues(of: "inserted", where: "state = \(JobState.available.sql)"))
        FROM inserted
        """

    static let cancelWaitingByTag = """
        UPDATE queue.jobs SET state = \(JobState.cancelled.sql), finalized_at = now(),
            errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', now(),
                'error', 'cancelled: ' || $2))
        WHERE tags @> ARRAY[$1]::text[] AND tags <> '{}'
          AND state IN \(JobState.sqlList(JobState.waiting))
        """

    static let uniqueHolders = """
        SELECT unique_key, id FROM queue.jobs
        WHERE unique_key = ANY($1::text[]) AND \(holdsUniqueKey)
        """
}

extension PostgresConnection {
    /// Cancels every waiting (not yet running) job carrying `tag`, inside the caller's
    /// transaction when one is open — e.g. the reminders of an order that was
    /// rescheduled. Returns how many were cancelled. (`tags <> '{}'` repeats the
    /// predicate of the partial GIN index on tags, so the planner can use it.)
    @discardableResult
    public func cancelWaitingJobs(tagged tag: String, reason: String) throws -> Int {
        try execute(JobEnqueueStatements.cancelWaitingByTag, [tag, reason])
    }
}
