public import Foundation
import PostgresClient

/// How far a group of jobs — a batch, or a workflow — has got: its jobs counted by
/// state, and the group's jobs one by one with their dependencies, for operators.
///
/// A workflow is named by its first job (one without dependencies); its jobs are
/// that job and every job depending on it, directly or through others. A batch is
/// the jobs enqueued with its batch id, plus its completion callback.
public struct JobGroupProgress: Sendable, Codable, Equatable {
    /// The batch id, or the workflow's first job id as text.
    public var name: String
    /// The first job's kind (a workflow), or the callback's (a batch) when it has one.
    public var kind: String?
    /// Jobs by state name (`JobState.rawValue`); states without jobs are absent.
    public var counts: [String: Int]
    public var total: Int
    public var createdAt: Date
    /// The newest finish among its jobs, when any finished.
    public var lastFinishedAt: Date?

    /// One job of a group, with what it waits on.
    public struct Member: Sendable, Codable, Equatable {
        public var job: JobAdministration.JobSummary
        public var dependsOn: [Int64]
        public var batchID: String?
        /// Set on a batch's completion callback.
        public var callbackForBatch: String?
    }

    /// Most jobs a group's detail lists, and a workflow follows downstream.
    public static let memberLimit = 1_000

    static func decodeCounts(_ json: String) -> [String: Int] {
        (try? JSONDecoder().decode([String: Int].self, from: Data(json.utf8))) ?? [:]
    }

    static let memberColumns = """
        \(JobAdministration.summaryColumns), depends_on, batch_id, callback_for_batch
        """

    static func member(_ row: PostgresRow) throws -> Member {
        Member(
            job: try JobAdministration.summary(row), dependsOn: try row.decode(10, as: [Int64].self),
            batchID: try row.decode(11, as: String?.self), callbackForBatch: try row.decode(12, as: String?.self))
    }

    /// The newest batches (by their newest job), each counted by state.
    static let batchesStatement = """
        WITH recent AS (
            SELECT batch_id, max(id) AS newest FROM queue.jobs WHERE batch_id IS NOT NULL
            GROUP BY batch_id ORDER BY newest DESC LIMIT $1
        ), counted AS (
            SELECT j.batch_id, j.state, count(*)::int8 AS n, min(j.created_at) AS created, max(j.finalized_at) AS finished
            FROM queue.jobs AS j JOIN recent AS r ON r.batch_id = j.batch_id
            GROUP BY j.batch_id, j.state
        )
        SELECT c.batch_id, (SELECT cb.kind FROM queue.jobs AS cb WHERE cb.callback_for_batch = c.batch_id ORDER BY cb.id DESC LIMIT 1),
               jsonb_object_agg(c.state, c.n)::text, sum(c.n)::int8, min(c.created), max(c.finished)
        FROM counted AS c JOIN recent AS r ON r.batch_id = c.batch_id
        GROUP BY c.batch_id, r.newest ORDER BY r.newest DESC
        """

    /// The newest workflows: the first jobs reached upstream from the newest jobs
    /// that wait on others, each followed downstream and counted by state.
    static let workflowsStatement = """
        WITH RECURSIVE recent AS (
            SELECT id FROM queue.jobs WHERE cardinality(depends_on) > 0 ORDER BY id DESC LIMIT $1
        ), upstream (start, id) AS (
            SELECT id, id FROM recent
            UNION
            SELECT u.start, d.id FROM upstream AS u JOIN queue.jobs AS j ON j.id = u.id
            CROSS JOIN LATERAL unnest(j.depends_on) AS d(id)
        ), roots AS (
            SELECT DISTINCT min(id) AS root FROM upstream GROUP BY start
        ), downstream (root, id) AS (
            SELECT root, root FROM roots
            UNION
            SELECT d.root, j.id FROM downstream AS d
            JOIN queue.jobs AS j ON cardinality(j.depends_on) > 0 AND j.depends_on @> ARRAY[d.id]
        ), counted AS (
            SELECT d.root, j.state, count(*)::int8 AS n, min(j.created_at) AS created, max(j.finalized_at) AS finished
            FROM downstream AS d JOIN queue.jobs AS j ON j.id = d.id
            GROUP BY d.root, j.state
        )
        SELECT c.root::text, (SELECT f.kind FROM queue.jobs AS f WHERE f.id = c.root),
               jsonb_object_agg(c.state, c.n)::text, sum(c.n)::int8, min(c.created), max(c.finished)
        FROM counted AS c GROUP BY c.root ORDER BY c.root DESC
        """

    /// A workflow's jobs: its first job and every job depending on it.
    static let workflowMembersStatement = """
        WITH RECURSIVE downstream (id) AS (
            SELECT $1::int8
            UNION
            SELECT j.id FROM downstream AS d
            JOIN queue.jobs AS j ON cardinality(j.depends_on) > 0 AND j.depends_on @> ARRAY[d.id]
        )
        SELECT \(memberColumns) FROM queue.jobs WHERE id IN (SELECT id FROM downstream) ORDER BY id LIMIT $2
        """

    static let batchMembersStatement = """
        SELECT \(memberColumns) FROM queue.jobs
        WHERE batch_id = $1 OR (callback_for_batch = $1)
        ORDER BY id LIMIT $2
        """

    static func groups(_ statement: String, limit: Int, on connection: PostgresConnection) throws -> [JobGroupProgress] {
        try connection.query(statement, [Int64(max(1, min(limit, 500)))]).rows.map { row in
            let (name, kind, counts, total, created, finished) = try row.decode((String, String?, String, Int64, Date, Date?).self)
            return JobGroupProgress(
                name: name, kind: kind, counts: decodeCounts(counts), total: Int(total), createdAt: created,
                lastFinishedAt: finished)
        }
    }
}

extension JobAdministration {
    /// The newest batches with their progress (`limit` at most 500).
    public func batches(limit: Int = 50) async throws -> [JobGroupProgress] {
        try await database.withConnection { try JobGroupProgress.groups(JobGroupProgress.batchesStatement, limit: limit, on: $0) }
    }

    /// The newest workflows with their progress, found from the newest `limit` jobs
    /// that wait on others (at most 500).
    public func workflows(limit: Int = 50) async throws -> [JobGroupProgress] {
        try await database.withConnection { try JobGroupProgress.groups(JobGroupProgress.workflowsStatement, limit: limit, on: $0) }
    }

    /// The jobs of the workflow that starts with job `firstJob`, by id (at most `JobGroupProgress.memberLimit`).
    public func workflowMembers(_ firstJob: Int64) async throws -> [JobGroupProgress.Member] {
        try await database.query(
            JobGroupProgress.workflowMembersStatement, [firstJob, Int64(JobGroupProgress.memberLimit)]
        ).rows.map(JobGroupProgress.member)
    }

    /// The jobs of a batch and its completion callback, by id (at most `JobGroupProgress.memberLimit`).
    public func batchMembers(_ batchID: String) async throws -> [JobGroupProgress.Member] {
        try await database.query(
            JobGroupProgress.batchMembersStatement, [batchID, Int64(JobGroupProgress.memberLimit)]
        ).rows.map(JobGroupProgress.member)
    }
}
