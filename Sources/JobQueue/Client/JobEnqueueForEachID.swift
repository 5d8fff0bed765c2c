public import PostgresClient

extension PostgresConnection {
    /// Enqueues one job per id in one statement: every job is `template` with the
    /// arguments `{"<argument>": id}` and, when `uniqueKeyPrefix` is given, the
    /// unique key `<uniqueKeyPrefix><id>`. Made for set-based producers that fan
    /// out one job per row they just wrote (a nightly run notifying 900 000
    /// members): nothing is built or encoded per job on this side, where
    /// `enqueue([JobRequest])` encodes each job's JSON and sends 13 arrays.
    ///
    /// The jobs run now: a template with a run-at, a deadline, dependencies or a
    /// batch callback is refused. Its kind, queue, priority, max attempts, tags,
    /// batch and unique-key scope apply to every job; its arguments are replaced.
    /// A job whose unique key is taken is skipped. Inside the caller's transaction
    /// when one is open; idle workers are woken at commit. Returns how many jobs
    /// were inserted.
    @discardableResult
    public func enqueue(
        _ template: JobRequest, forEachID ids: [Int64], argument: String, uniqueKeyPrefix: String? = nil
    ) throws -> Int {
        try template.validateForEnqueue()
        guard template.runAt == nil, template.deadline == nil, template.dependsOn.isEmpty,
            template.callbackForBatch == nil
        else {
            throw JobQueueError.invalidJob(
                "jobs enqueued per id run now: no run-at, deadline, dependencies or batch callback")
        }
        guard !ids.isEmpty else { return 0 }
        try JobWorkflows.check([template], on: self)
        return Int(
            try query(
                JobEnqueueStatements.insertForEachID,
                [
                    template.kind, template.queue, ids, argument, Int64(template.priority), Int64(template.maxAttempts),
                    template.tags, uniqueKeyPrefix, template.uniqueScope.rawValue, template.batchID,
                ]
            ).first!.decode(0, as: Int64.self))
    }
}

extension JobEnqueueStatements {
    /// `$3` the ids, `$4` the argument's name, `$7` the tags, `$8` the unique-key
    /// prefix (NULL: no key). Every row is available at once, so one NOTIFY per
    /// statement wakes the queue's workers.
    static let insertForEachID = """
        WITH inserted AS (
            INSERT INTO queue.jobs (kind, queue, args, priority, max_attempts, tags, unique_key, unique_scope, batch_id,
                                    state)
            SELECT $1::text, $2::text, jsonb_build_object($4::text, i.id), $5::int2, $6::int4, $7::text[],
                   $8::text || i.id, $9::text, $10::text, \(JobState.available.sql)
            FROM unnest($3::int8[]) AS i(id)
            ON CONFLICT DO NOTHING
            RETURNING queue
        )
        SELECT count(*)::int8, \(JobChannel.notifyQueues(of: "inserted"))
        FROM inserted
        """
}
