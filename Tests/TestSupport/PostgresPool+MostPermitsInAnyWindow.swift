public import PostgresClient

extension PostgresPool {
    /// The most rate-limit permits `key` took within any `interval`: for every permit,
    /// the permits in the window ending at it (0 when there are none). What a test
    /// compares with the limit to see that the limit held across workers.
    public func mostPermitsInAnyWindow(key: String, interval: Duration) async throws -> Int64 {
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        return try await query(
            """
            SELECT COALESCE(max(n), 0)::int8 FROM (
                SELECT (SELECT count(*) FROM queue.rate_limit_permits q
                        WHERE q.key = p.key AND q.taken_at > p.taken_at - make_interval(secs => $2)
                          AND q.taken_at <= p.taken_at) AS n
                FROM queue.rate_limit_permits p WHERE p.key = $1) AS windows
            """, [key, seconds]
        ).scalar(Int64.self)
    }
}
