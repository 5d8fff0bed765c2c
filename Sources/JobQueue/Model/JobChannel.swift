/// The LISTEN/NOTIFY channel on which runnable work is announced; the payload is
/// the queue's name. A notification is sent in the statement (or, for staging, the
/// transaction) that made jobs available, so PostgreSQL delivers it only if that
/// transaction commits.
public enum JobChannel {
    public static let name = "queue_jobs"

    /// Announces work in the queue $1 (delivered when the transaction commits).
    static let notify = "SELECT pg_notify('\(name)', $1)"

    /// SQL: one notification per distinct queue among `relation`'s rows (a relation
    /// with a `queue` column, optionally filtered by `condition`); evaluates to the
    /// number of notifications sent.
    static func notifyQueues(of relation: String, where condition: String? = nil) -> String {
        let filter = condition.map { " WHERE \($0)" } ?? ""
        return "(SELECT count(pg_notify('\(name)', queue)) FROM (SELECT DISTINCT queue FROM \(relation)\(filter)) AS q)"
    }
}
