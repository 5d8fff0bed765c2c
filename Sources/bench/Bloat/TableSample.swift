import BenchSupport
import JobQueue
import Metrics
import PostgresClient

/// One look at `queue.jobs` during a bloat run: its sizes, its tuple counters from
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

    static let tableStatistics = """
        SELECT pg_relation_size(relid)::int8, pg_total_relation_size(relid)::int8, n_live_tup, n_dead_tup,
               autovacuum_count, autoanalyze_count, n_tup_upd, n_tup_hot_upd, n_tup_del
        FROM pg_stat_user_tables WHERE relid = 'queue.jobs'::regclass
        """

    static let indexSizes = """
        SELECT c.relname::text, pg_relation_size(c.oid)::int8
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = 'queue.jobs'::regclass
        """

    static func read(
        on connection: PostgresConnection, elapsed: Double, handled: Int, enqueued: Int, claims: PrometheusText.Histogram
    ) throws -> TableSample {
        guard let row = try connection.query(tableStatistics).first else {
            throw BenchFailure("queue.jobs has no row in pg_stat_user_tables")
        }
        let (heap, total, live, dead, autovacuums, autoanalyzes, updates, hotUpdates, deletes) = try row.decode(
            (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64).self)
        var indexes: [String: Int64] = [:]
        for index in try connection.query(indexSizes).rows {
            let (name, bytes) = try index.decode((String, Int64).self)
            indexes[name] = bytes
        }
        return TableSample(
            elapsed: elapsed, handled: handled, enqueued: enqueued, claims: claims, heapBytes: heap, totalBytes: total,
            indexBytes: indexes, liveTuples: live, deadTuples: dead, autovacuums: autovacuums,
            autoanalyzes: autoanalyzes, updates: updates, hotUpdates: hotUpdates, deletes: deletes)
    }
}
