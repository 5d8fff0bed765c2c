import PostgresClient

/// How long finished jobs are kept before the leader prunes them. Deleting in
/// bounded batches keeps each transaction short, so pruning never holds locks
/// that claims wait on; the hot index only ever holds runnable rows anyway.
public struct RetentionPolicy: Sendable, Equatable {
    public var completed: Duration
    public var cancelled: Duration
    public var discarded: Duration
    /// Rows deleted per statement, and most rows per pruning run.
    public var batchSize: Int
    public var maxPerRun: Int

    public init(
        completed: Duration = .seconds(86_400), cancelled: Duration = .seconds(86_400),
        discarded: Duration = .seconds(7 * 86_400), batchSize: Int = 5_000, maxPerRun: Int = 200_000
    ) {
        self.completed = completed
        self.cancelled = cancelled
        self.discarded = discarded
        self.batchSize = max(1, batchSize)
        self.maxPerRun = max(batchSize, maxPerRun)
    }

    /// The queues holding jobs in state $1 finished more than $2 ms ago (among $3 of them).
    static let queuesToPrune = """
        SELECT DISTINCT old.queue FROM (
            SELECT queue FROM queue.jobs
            WHERE state = $1 AND finalized_at < now() - $2 * interval '1 millisecond'
            LIMIT $3
        ) AS old
        """

    /// Deletes up to $3 jobs of queue $4 in state $1 finished more than $2 ms ago. One
    /// queue per statement, so on a Citus cluster it runs on the queue's shard
    /// (`JobMaintenance` says why).
    static let prune = """
        WITH old AS (
            SELECT id FROM queue.jobs
            WHERE queue = $4 AND state = $1 AND finalized_at < now() - $2 * interval '1 millisecond'
            LIMIT $3
            FOR UPDATE SKIP LOCKED
        )
        DELETE FROM queue.jobs AS j USING old WHERE j.queue = $4 AND j.id = old.id
        """

    /// Rate-limit permits outlive any window we allow (one day) by a margin.
    static let prunePermits = """
        DELETE FROM queue.rate_limit_permits
        WHERE ctid = ANY(ARRAY(SELECT ctid FROM queue.rate_limit_permits
                               WHERE taken_at < now() - interval '2 days' LIMIT $1))
        """

    /// Deletes what is past its age; returns the number of jobs deleted.
    func prune(on database: PostgresPool) async throws -> Int {
        var deleted = 0
        for (state, age) in [(JobState.completed, completed), (.cancelled, cancelled), (.discarded, discarded)] {
            let old: [any PostgresEncodable] = [state.rawValue, age.milliseconds, Int64(batchSize)]
            while deleted < maxPerRun {
                let queues = try await database.query(Self.queuesToPrune, old).rows.map { try $0.decode(0, as: String.self) }
                var batch = 0
                for queue in queues where deleted + batch < maxPerRun {
                    batch += try await database.withConnection { try $0.execute(Self.prune, old + [queue]) }
                }
                deleted += batch
                if batch < batchSize { break }
            }
        }
        _ = try await database.withConnection { try $0.execute(Self.prunePermits, [Int64(batchSize)]) }
        return deleted
    }
}
