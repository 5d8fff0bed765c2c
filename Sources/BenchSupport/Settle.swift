public import PostgresClient

/// The untimed step before a timed one: vacuum and analyse what the previous step left
/// (dead rows, stale statistics) and checkpoint (its dirty buffers), so a step never
/// pays on its own clock for the one before it.
public enum Settle {
    /// Runs `maintenance` (e.g. "VACUUM ANALYZE", or one from `JobTable`),
    /// then CHECKPOINT. Returns how long it took, for the report.
    @discardableResult
    public static func run(_ maintenance: [String], on connection: PostgresConnection) throws -> Duration {
        let started = ContinuousClock.now
        for statement in maintenance { try connection.executeScript(statement) }
        try connection.executeScript("CHECKPOINT")
        return ContinuousClock.now - started
    }
}
