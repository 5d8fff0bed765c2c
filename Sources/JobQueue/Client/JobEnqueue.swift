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
    /// is open, so the job exists if and only if the caller's own rows commit. A job
    /// that can hold a unique key or wait on dependencies runs the SQL API's
    /// `queue.enqueue_job`, the implementation front ends in other languages call too
    /// (`queue.enqueue`); the rest — nearly every single job — take a one-row insert
    /// (`JobEnqueueStatements.insertOne`): the same first-state rule and NOTIFY,
    /// validated here as the function would, without a PL/pgSQL call, arrays or
    /// aggregates (server time on the enqueue → start path; docs/performance-queue.md,
    /// "Start latency").
    @discardableResult
    public func enqueue(_ request: JobRequest) throws -> EnqueueResult {
        try request.validateForEnqueue()
        try JobWorkflows.check([request], on: self)
        if request.entersUnconditionally { return try enqueueUnconditionally(request) }
        let (id, inserted) = try query(
            JobEnqueueStatements.enqueueOne,
            [
                request.kind, request.argumentsJSON, request.queue, Int64(request.priority), request.runAt,
                Int64(request.maxAttempts), request.tags, request.uniqueKey, request.uniqueScope.rawValue,
                request.deadline, request.dependsOn, request.batchID, request.callbackForBatch,
            ]
        ).first!.decode((Int64, Bool).self)
        return EnqueueResult(id: id, inserted: inserted)
    }

    /// Enqueues many jobs in one statement (tested with 10 000+ per call); results are
    /// in the order of `requests`. Idle workers are woken by one NOTIFY per queue that
    /// got runnable work: inside the caller's transaction sent at its commit; outside
    /// one, for a batch of plain jobs, right after the insert has committed
    /// (`enqueueUnconditionally`).
    public func enqueue(_ requests: [JobRequest]) throws -> [EnqueueResult] {
        guard !requests.isEmpty else { return [] }
        for request in requests { try request.validateForEnqueue() }
        try JobWorkflows.check(requests, on: self)
        if requests.allSatisfy(\.entersUnconditionally) { return try enqueueUnconditionally(requests) }
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

extension JobRequest {
    /// True when the job is inserted whatever else is in the table: it has no unique
    /// key (it cannot lose a conflict) and neither dependencies nor a batch callback
    /// (it cannot start `pending`). Such batches — nearly every bulk enqueue — take the
    /// lean statement `JobEnqueueStatements.insertUnconditionally`.
    fileprivate var entersUnconditionally: Bool {
        uniqueKey == nil && dependsOn.isEmpty && callbackForBatch == nil
    }
}

extension PostgresConnection {
    /// `enqueue(_:)` for one request that `entersUnconditionally`: one row from scalar
    /// parameters, its NOTIFY in the statement (delivered at commit), so the enqueue →
    /// start path stays one round trip.
    fileprivate func enqueueUnconditionally(_ request: JobRequest) throws -> EnqueueResult {
        let id = try query(
            JobEnqueueStatements.insertOne,
            [
                request.kind, request.queue, request.argumentsJSON, Int64(request.priority), request.runAt,
                Int64(request.maxAttempts), request.tags, request.uniqueScope.rawValue, request.deadline,
                request.batchID,
            ]
        ).first!.decode(Int64.self)
        return EnqueueResult(id: id, inserted: true)
    }

    /// `enqueue(_:)` for requests that are all `entersUnconditionally`: every row is
    /// inserted, so the ids come back as one array and map to the requests by order
    /// (the statement draws them from the sequence in request order, and a session's
    /// `nextval` only grows).
    ///
    /// The wake-up: a NOTIFY in a transaction serializes its commit with every other
    /// notifying commit of the cluster, WAL flush included (PostgreSQL's
    /// `PreCommit_Notify` holds one lock through the commit), which costs concurrent
    /// producers their group commit (docs/performance-queue.md, "Bulk enqueue"). So a
    /// batch enqueued outside a transaction — the statement is its own transaction —
    /// commits without one and then announces its queues in a transaction of their
    /// own that writes nothing and does not wait for a flush (`JobChannel.announce`).
    /// A crash or a broken connection between the two only leaves the jobs to the
    /// workers' poll. Inside a caller's transaction the statement notifies, delivered
    /// at the caller's commit; so does a batch of one.
    ///
    /// A column whose value every request shares travels once (`BatchColumn`): in a
    /// batch of one kind for one queue, with default priority and attempts, only what
    /// differs — usually the arguments — is sent per job; `{}` arguments as NULL, which
    /// the statement stores as `{}`.
    fileprivate func enqueueUnconditionally(_ requests: [JobRequest]) throws -> [EnqueueResult] {
        let announcesAfterCommit = requests.count > 1 && transactionStatus == .idle
        let columns: [[any PostgresEncodable]] = [
            BatchColumn(requests) { $0.kind }.parameters, BatchColumn(requests) { $0.queue }.parameters,
            BatchColumn(requests) { $0.argumentsJSON == JobRequest.noArguments ? nil : $0.argumentsJSON }.parameters,
            BatchColumn(requests) { Int64($0.priority) }.parameters,
            BatchColumn(requests) { $0.runAt.map(JobTime.microseconds) }.parameters,
            BatchColumn(requests) { Int64($0.maxAttempts) }.parameters,
            BatchColumn(requests) { $0.tags.isEmpty ? nil : PostgresArrayLiteral.text($0.tags) }.parameters,
            BatchColumn(requests) { $0.uniqueScope.rawValue }.parameters,
            BatchColumn(requests) { $0.deadline.map(JobTime.microseconds) }.parameters,
            BatchColumn(requests) { $0.batchID }.parameters,
        ]
        var (ids, woken) = try query(
            JobEnqueueStatements.insertUnconditionally,
            columns.flatMap { $0 } + [Int32(requests.count), !announcesAfterCommit]
        ).first!.decode(([Int64], [String]).self)
        // The statement aggregates the ids in insertion order, which is request order;
        // sorting restates that (ascending ids are request order) at no cost for input
        // already in order, without a sort on the server.
        ids.sort()
        guard ids.count == requests.count else {
            throw PostgresError(
                kind: .client, message: "enqueue inserted \(ids.count) jobs for \(requests.count) requests")
        }
        // The jobs are committed now: a failed announcement must not make the call throw
        // (a caller would retry and enqueue them twice); the workers' poll finds them.
        if announcesAfterCommit && !woken.isEmpty { _ = try? query(JobChannel.announce, [woken]) }
        return ids.map { EnqueueResult(id: $0, inserted: true) }
    }

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

    /// One row per request (arrays zipped by `unnest`), each in the first state
    /// `queue.initial_state` gives (the rule `queue.enqueue_job` applies). Ids are drawn from the
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
                   queue.initial_state(dependencies, callback_for_batch, run_at)
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

    /// `insert` for rows that cannot conflict or start pending (`entersUnconditionally`):
    /// no unique key, dependencies or batch callback, so no `ON CONFLICT` arbiter (a
    /// speculative insertion per row), no per-row join back to the input, and the ids
    /// as one array instead of a row per job. Measured on the server: about 30 % less
    /// backend CPU per 1 000-row batch than `insert` (docs/performance-queue.md). The
    /// first state is the same rule, `queue.initial_state`, as everywhere.
    ///
    /// Each column of `bulkColumns` comes as two parameters, an array and a value all
    /// rows share (`BatchColumn`); `generate_series` over `$21`, the number of rows, sets
    /// the length, since every array may be NULL. A NULL argument is the empty object.
    /// Returns the ids (in insertion order, unsorted: the caller sorts) and the queues
    /// that got available jobs; `$22` says whether the statement notifies those queues
    /// itself (false: the caller announces them after the commit). When the batch shares
    /// its queue — nearly always — that queue is the answer if any job became available,
    /// without a `DISTINCT` over the inserted rows (a sort of every row's queue,
    /// measured at 0.3–0.5 ms of a 1 000-row batch's 7 ms).
    static let insertUnconditionally = """
        WITH inserted AS (
            INSERT INTO queue.jobs (id, kind, queue, args, priority, run_at, max_attempts, tags, unique_scope,
                                    deadline_at, batch_id, state)
            OVERRIDING SYSTEM VALUE
            SELECT nextval('queue.jobs_id_seq'), kind, queue, COALESCE(args::jsonb, '{}'), priority::int2, run_at,
                   max_attempts::int4,
                   COALESCE(tags::text[], '{}'), unique_scope,
                   timestamptz 'epoch' + deadline_us * interval '1 microsecond', batch_id,
                   queue.initial_state('{}', NULL, run_at)
            FROM (
                SELECT given.*, COALESCE(timestamptz 'epoch' + run_at_us * interval '1 microsecond', now()) AS run_at
                FROM (
                    SELECT \(bulkColumns.enumerated().map { index, column in
                        rowValue(column.name, type: column.type, parameter: 2 * index + 1) + " AS \(column.name)"
                    }.joined(separator: ",\n                           "))
                    FROM ROWS FROM (generate_series(1, $21::int4), \(bulkColumns.enumerated().map { index, column in
                        "unnest($\(2 * index + 1)::\(column.type)[])"
                    }.joined(separator: ", ")))
                         AS i(ordinal, \(bulkColumns.map(\.name).joined(separator: ", ")))
                ) AS given
            ) AS input
            RETURNING id, queue, state = \(JobState.available.sql) AS available
        ), woken AS (
            SELECT \(sharedQueue)::text AS queue
            WHERE \(queueArray)::text[] IS NULL AND EXISTS (SELECT FROM inserted WHERE available)
            UNION ALL
            SELECT DISTINCT queue FROM inserted WHERE \(queueArray)::text[] IS NOT NULL AND available
        )
        SELECT (SELECT array_agg(id) FROM inserted),
               (SELECT COALESCE(array_agg(queue), '{}') FROM woken),
               \(JobChannel.notifyQueues(of: "woken", where: "$22::bool"))
        """

    /// `insertUnconditionally`'s columns in parameter order, with the type of their
    /// parameters: times as microseconds since the epoch, tags as an array literal.
    private static let bulkColumns: [(name: String, type: String)] = [
        ("kind", "text"), ("queue", "text"), ("args", "text"), ("priority", "int8"), ("run_at_us", "int8"),
        ("max_attempts", "int8"), ("tags", "text"), ("unique_scope", "text"), ("deadline_us", "int8"),
        ("batch_id", "text"),
    ]

    /// The queue column's parameters, numbered as `rowValue`'s: the array (NULL when the
    /// batch shares one queue) and, one after it, the shared queue.
    private static let queueParameter = 2 * bulkColumns.firstIndex { $0.name == "queue" }! + 1
    private static let queueArray = "$\(queueParameter)"
    private static let sharedQueue = "$\(queueParameter + 1)"

    /// SQL: a row's value of the `BatchColumn` `name`, whose array is the parameter
    /// `$parameter` (unnested as `i.name`, padded with NULLs when the array is NULL) and
    /// shared value `$parameter + 1` (NULL whenever the array is given).
    private static func rowValue(_ name: String, type: String, parameter: Int) -> String {
        "COALESCE(i.\(name), $\(parameter + 1)::\(type))"
    }

    /// `insertUnconditionally` for one job (`enqueue(_ request:)`): scalar parameters,
    /// one row, the NOTIFY for an available job in the statement, no arrays, `DISTINCT`
    /// or aggregates — about the table's least possible insert with the same first-state
    /// rule, on the enqueue → start path (docs/performance-queue.md, "Start latency").
    /// Returns the job's id.
    static let insertOne = """
        WITH inserted AS (
            INSERT INTO queue.jobs (kind, queue, args, priority, run_at, max_attempts, tags, unique_scope, deadline_at,
                                    batch_id, state)
            SELECT $1::text, $2::text, $3::text::jsonb, $4::int2, run_at, $6::int4, $7::text[], $8::text,
                   $9::timestamptz, $10::text, queue.initial_state('{}', NULL, run_at)
            FROM (SELECT COALESCE($5::timestamptz, now()) AS run_at) AS starts
            RETURNING id, queue, state
        )
        SELECT id, \(JobChannel.notifyQueue(in: "queue", when: "state = \(JobState.available.sql)")) FROM inserted
        """

    /// `queue.enqueue_job` (sql/0012_sql_api.sql): validates, inserts in the first
    /// state, NOTIFYs for an available job, or returns the holder of its unique key.
    static let enqueueOne = """
        SELECT id, inserted FROM queue.enqueue_job(
            $1::text, $2::text::jsonb, $3::text, $4::int4, $5::timestamptz, $6::int4, $7::text[], $8::text, $9::text,
            $10::timestamptz, $11::int8[], $12::text, $13::text)
        """

    static let uniqueHolders = """
        SELECT unique_key, id FROM queue.jobs
        WHERE unique_key = ANY($1::text[]) AND \(holdsUniqueKey)
        """
}

extension PostgresConnection {
    /// Cancels every waiting (not yet running) job carrying `tag`, inside the caller's
    /// transaction when one is open — e.g. the reminders of an order that was
    /// rescheduled. Returns how many were cancelled. Runs the SQL API's
    /// `queue.cancel_waiting_jobs`, which the platform's SQL functions call too.
    @discardableResult
    public func cancelWaitingJobs(tagged tag: String, reason: String) throws -> Int {
        Int(try query("SELECT queue.cancel_waiting_jobs($1, $2)::int8", [tag, reason]).scalar(Int64.self))
    }
}
