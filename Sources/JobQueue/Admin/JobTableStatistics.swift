
/// Table-level facts and maintenance of the job table, for benchmarks and operators
/// who need them (relation sizes, pg_stat counters, ANALYZE before a timed step)
/// without naming the table outside the engine.
public enum JobTableStatistics {
    /// ANALYZE of the job table, e.g. for a settle step before a timed run.
    public static let analyze = "ANALYZE queue.jobs"
    /// VACUUM ANALYZE of the job table: dead rows and index entries of earlier runs
    /// are gone before the next timed run.
    public static let vacuumAnalyze = "VACUUM ANALYZE queue.jobs"
}
