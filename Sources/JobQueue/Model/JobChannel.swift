/// The LISTEN/NOTIFY channel on which runnable work is announced; the payload is
/// the queue's name. A notification is sent in the statement (or, for staging, the
/// transaction) that made jobs available, so PostgreSQL delivers it only if that
/// transaction commits.
public enum JobChannel {
    public static let name = "queue_jobs"

    /// Announces work in the queue $1 (delivered when the transaction commits).
    static let notify = "SELECT pg_notify('\(name)', $1)"

    /// Announces work in each queue of $1 (a text array) as a transaction of its own,
    /// after the transaction that made the work available has committed. It writes
    /// nothing before its commit, so PostgreSQL does not wait for a WAL flush at that
    /// commit, and the cluster-wide lock every notifying commit takes is held only
    /// briefly (docs/performance-queue.md, "Bulk enqueue"). If it is lost in a crash,
    /// workers find the jobs at their next poll.
    static let announce = "SELECT count(pg_notify('\(name)', q)) FROM unnest($1::text[]) AS q"

    /// SQL: a notification for the queue named in `column` of one row when `condition`
    /// holds (a single row's insert: no DISTINCT or aggregate needed).
    static func notifyQueue(in column: String, when condition: String) -> String {
        "CASE WHEN \(condition) THEN pg_notify('\(name)', \(column)) END"
    }

    /// SQL: one notification per distinct queue among `relation`'s rows (a relation
    /// with a `queue` column, optionally filtered by `condition`); evaluates to the
    /// number of notifications sent.
    static func notifyQueues(of relation: String, where condition: String? = nil) -> String {
        let filter = condition.map { " WHERE \($0)" } ?? ""
        return "(SELECT count(pg_notify('\(name)', queue)) FROM (SELECT DISTINCT queue FROM \(relation)\(filter)) AS q)"
    }
}
