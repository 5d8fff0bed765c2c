public import PostgresClient

/// Table-level facts and maintenance of the job table, for benchmarks and load tests
/// that need them (relation sizes, pg_stat counters, storage settings, ANALYZE before
/// a timed step, a scratch table emptied or given a history) without naming the table
/// outside the engine.
public enum JobTable {
    /// ANALYZE of the job table, e.g. for a settle step before a timed run.
    public static let analyze = "ANALYZE queue.jobs"
    /// VACUUM ANALYZE of the job table: dead rows and index entries of earlier runs
    /// are gone before the next timed run.
    public static let vacuumAnalyze = "VACUUM ANALYZE queue.jobs"

    /// Sizes and cumulative counters of the table at one moment.
    public struct Snapshot: Sendable {
        /// `pg_relation_size` (heap) and `pg_total_relation_size` (heap, TOAST, indexes).
        public var heapBytes: Int64
        public var totalBytes: Int64
        /// `pg_relation_size` of each index by name.
        public var indexBytes: [String: Int64]
        /// From `pg_stat_user_tables`.
        public var liveTuples: Int64
        public var deadTuples: Int64
        public var autovacuums: Int64
        public var autoanalyzes: Int64
        public var updates: Int64
        public var hotUpdates: Int64
        public var deletes: Int64
    }

    /// The storage settings the migrations tune on the table (`ALTER TABLE … SET`).
    public enum StorageSetting: String, Sendable, CaseIterable {
        case fillfactor
        case autovacuumVacuumScaleFactor = "autovacuum_vacuum_scale_factor"
        case autovacuumAnalyzeScaleFactor = "autovacuum_analyze_scale_factor"
        case autovacuumVacuumCostDelay = "autovacuum_vacuum_cost_delay"
    }

    static let tableStatement = """
        SELECT pg_relation_size(relid)::int8, pg_total_relation_size(relid)::int8, n_live_tup, n_dead_tup,
               autovacuum_count, autoanalyze_count, n_tup_upd, n_tup_hot_upd, n_tup_del
        FROM pg_stat_user_tables WHERE relid = 'queue.jobs'::regclass
        """

    static let indexStatement = """
        SELECT c.relname::text, pg_relation_size(c.oid)::int8
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = 'queue.jobs'::regclass
        """

    static let storageOptionsStatement =
        "SELECT COALESCE(array_to_string(reloptions, ', '), '') FROM pg_class WHERE oid = 'queue.jobs'::regclass"

    /// Nil when the table is not there (the schema is not migrated).
    public static func snapshot(on connection: PostgresConnection) throws -> Snapshot? {
        guard let row = try connection.query(tableStatement).first else { return nil }
        let (heap, total, live, dead, autovacuums, autoanalyzes, updates, hotUpdates, deletes) = try row.decode(
            (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64).self)
        var indexes: [String: Int64] = [:]
        for index in try connection.query(indexStatement).rows {
            let (name, bytes) = try index.decode((String, Int64).self)
            indexes[name] = bytes
        }
        return Snapshot(
            heapBytes: heap, totalBytes: total, indexBytes: indexes, liveTuples: live, deadTuples: dead,
            autovacuums: autovacuums, autoanalyzes: autoanalyzes, updates: updates, hotUpdates: hotUpdates,
            deletes: deletes)
    }

    /// The table's storage settings as `pg_class.reloptions` lists them ("fillfactor=80, …").
    public static func storageOptions(on connection: PostgresConnection) throws -> String {
        try connection.query(storageOptionsStatement).scalar(String.self)
    }

    /// Takes settings back to the server's defaults (for comparing a tuned table with
    /// an untuned one). The names come from `StorageSetting`, never from input.
    public static func reset(_ settings: [StorageSetting], on connection: PostgresConnection) throws {
        guard !settings.isEmpty else { return }
        try connection.executeScript(
            "ALTER TABLE queue.jobs RESET (\(settings.map(\.rawValue).joined(separator: ", ")))")
    }

    /// Empties the table: a new, empty heap and indexes, as in a fresh database. Only
    /// for a database of one's own (a benchmark's scratch database).
    public static func empty(on connection: PostgresConnection) throws {
        try connection.executeScript("TRUNCATE queue.jobs")
    }

    static let completedHistoryStatement = """
        INSERT INTO queue.jobs (kind, queue, args, state, attempt, created_at, run_at, attempted_at, finalized_at)
        SELECT $1, $2, '{}'::jsonb, 'completed', 1, t, t, t, t
        FROM (SELECT now() - ($3::float8 - g * $3::float8 / $4::int8) * interval '1 millisecond' AS t
              FROM generate_series(1, $4::int8) AS g) AS finished
        """

    /// Adds `count` completed jobs of `kind` on `queue` with `{}` arguments, finished
    /// evenly over `period` up to now, oldest first (lowest ids): the history a queue
    /// holds after running at a steady rate for one retention period, made at once.
    public static func addCompletedHistory(
        kind: String, queue: String, count: Int, finishedOver period: Duration, on connection: PostgresConnection
    ) throws {
        let milliseconds = Double(period.components.seconds) * 1000 + Double(period.components.attoseconds) / 1e15
        try connection.execute(completedHistoryStatement, [kind, queue, milliseconds, Int64(count)])
    }
}
