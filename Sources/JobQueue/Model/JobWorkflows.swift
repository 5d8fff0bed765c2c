public import PostgresClient

/// Dependencies between jobs and batches with a callback ("workflows") join a job with
/// the jobs it waits for, which may be in any queue. On a Citus cluster, where
/// `queue.jobs` is spread over shards by queue, those joins would cross shards, so the
/// distributed install (sql/citus/0002_refuse_workflows.sql) refuses such jobs with a
/// check constraint, whatever enqueues them. The Swift client asks first, so its callers
/// get `JobQueueError.workflowsNeedOneServer` saying what to do instead, and the
/// leader does not look for workflows where there can be none.
enum JobWorkflows {
    /// The constraint of the distributed install (on shards with the shard's number appended).
    static let refusingConstraint = "jobs_workflows_need_one_server"

    static let allowedStatement = """
        SELECT NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'queue.jobs'::regclass AND conname = $1)
        """

    static func allowed(on connection: PostgresConnection) throws -> Bool {
        try connection.query(allowedStatement, [refusingConstraint]).first?.decode(0, as: Bool.self) ?? true
    }

    static func allowed(on database: PostgresPool) async throws -> Bool {
        try await database.withConnection { try allowed(on: $0) }
    }

    /// Throws `workflowsNeedOneServer` when one of `requests` is part of a workflow and
    /// the database refuses workflows; asks the database only in that case.
    static func check(_ requests: some Sequence<JobRequest>, on connection: PostgresConnection) throws {
        guard requests.contains(where: \.isPartOfWorkflow) else { return }
        if try !allowed(on: connection) { throw JobQueueError.workflowsNeedOneServer }
    }
}

extension PostgresConnection {
    /// Whether this database runs dependencies and batches: false on a Citus cluster,
    /// which refuses them (`JobWorkflows`). For code above the engine that can do
    /// without a workflow there, as a payout run does (docs/scaling.md, "Citus").
    public func acceptsWorkflows() throws -> Bool { try JobWorkflows.allowed(on: self) }
}

extension JobRequest {
    /// Depends on other jobs, belongs to a batch, or is a batch's callback.
    var isPartOfWorkflow: Bool { !dependsOn.isEmpty || batchID != nil || callbackForBatch != nil }
}
