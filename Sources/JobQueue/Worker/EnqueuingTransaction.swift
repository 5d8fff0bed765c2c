import Foundation
import PostgresClient

/// A claimed job runs only once the transaction that enqueued it has committed.
///
/// On one server that is always so: a job becomes visible with its transaction. On a
/// Citus cluster a transaction that wrote the coordinator's own tables and one job on a
/// worker node's shard commits in one phase, the shard first, so for a moment a worker
/// can claim the job while the rows it is about are not yet visible (migration 0035).
/// There each job records the coordinator's transaction id, and after a claim the
/// worker asks the coordinator for those transactions' status: it waits (briefly) for
/// the ones still committing, discards unrun a job whose transaction rolled back (the
/// coordinator failed between the two commits), and gives back to the queue a job whose
/// transaction is still open after `patience`. (Taking an id past the snapshot's xmax
/// for one never reached discarded a job whose transaction was only committing: found
/// by the concurrent demo comparison.)
enum EnqueuingTransaction {
    /// The status of each transaction, one too old to know counting as committed. An id
    /// at or past the snapshot's xmax is newer than every finished transaction: still in
    /// progress — the usual case here, a job seen in the moment before its coordinator
    /// transaction commits — or, after a failover that lost WAL, never reached on this
    /// timeline (`pg_xact_status` would fail on it); both count as in progress, so such a
    /// job is given back until the coordinator's ids pass it.
    static let statusStatement = """
        SELECT i, CASE WHEN i::text::xid8 >= pg_snapshot_xmax(pg_current_snapshot()) THEN 'in progress'
                       ELSE pg_xact_status(i::text::xid8) END
        FROM unnest($1::int8[]) AS i
        """

    /// How long a claimed job waits for its transaction before it goes back to the queue.
    static let patience = Duration.seconds(2)

    /// What becomes of the jobs among `jobs` that must not run now, by job id; every
    /// other job may run. Asks nothing when no job records its transaction.
    static func verdicts(for jobs: [ClaimedJob], on database: PostgresPool) async throws -> [Int64: JobOutcome.Result] {
        var open = Set(jobs.compactMap(\.enqueuingTransaction))
        guard !open.isEmpty else { return [:] }
        var rolledBack = Set<Int64>()
        let clock = ContinuousClock()
        let started = clock.now
        var pause = Duration.milliseconds(1)
        while true {
            var stillOpen = Set<Int64>()
            for row in try await database.query(statusStatement, [Array(open)]).rows {
                let (transaction, status) = try row.decode((Int64, String?).self)
                switch status {
                case "in progress": stillOpen.insert(transaction)
                case "aborted": rolledBack.insert(transaction)
                default: break
                }
            }
            open = stillOpen
            if open.isEmpty || clock.now - started >= patience { break }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
        var verdicts: [Int64: JobOutcome.Result] = [:]
        for job in jobs {
            guard let transaction = job.enqueuingTransaction else { continue }
            if rolledBack.contains(transaction) {
                verdicts[job.id] = .discarded(
                    error: "not run: the transaction that enqueued it (\(transaction)) rolled back on the coordinator")
            } else if open.contains(transaction) {
                verdicts[job.id] = .snoozed(until: Date().addingTimeInterval(1))
            }
        }
        return verdicts
    }
}
