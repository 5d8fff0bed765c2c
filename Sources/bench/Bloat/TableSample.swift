import BenchSupport
import JobQueue
import Metrics
import PostgresClient

/// One look at the job table during a bloat run: its sizes, its tuple counters from
/// `pg_stat_user_tables`, and the worker's counters at the same moment.
struct TableSample: Sendable {
    /// Seconds since the load started.
    var elapsed: Double
    /// Jobs the worker ran and jobs enqueued, since the load started.
    var handled: Int
    var enqueued: Int
    /// The worker's claim round trips so far (cumulative).
    var claims: PrometheusText.Histogram

    /// `pg_relation_size` (heap) and `pg_total_relation_size` (heap, TOAST, indexes).
    var heapBytes: Int64
    var totalBytes: Int64
    /// `pg_relation_size` of each index by name.
    var indexBytes: [String: Int64]
    var liveTuples: Int64
    var deadTuples: Int64
    var autovacuums: Int64
    var autoanalyzes: Int64
    var updates: Int64
    var hotUpdates: Int64
    var deletes: Int64

    var indexTotal: Int64 { indexBytes.values.reduce(0, +) }
    /// Jobs enqueued and not yet run: the backlog (and the jobs running now).
    var outstanding: Int { enqueued - handled }

    static func read(
        on connection: PostgresConnection, elapsed: Double, handled: Int, enqueued: Int, claims: PrometheusText.Histogram
    ) throws -> TableSample {
        guard let table = try JobTable.snapshot(on: connection) else {
            throw BenchFailure("the job table has no row in pg_stat_user_tables", hint: "migrate the database first")
        }
        return TableSample(
            elapsed: elapsed, handled: handled, enqueued: enqueued, claims: claims, heapBytes: table.heapBytes,
            totalBytes: table.totalBytes, indexBytes: table.indexBytes, liveTuples: table.liveTuples,
            deadTuples: table.deadTuples, autovacuums: table.autovacuums, autoanalyzes: table.autoanalyzes,
            updates: table.updates, hotUpdates: table.hotUpdates, deletes: table.deletes)
    }
}
