public import PostgresClient

extension RateLimit {
    /// Locks every key of a set, one lock per distinct hash, in hash order: two
    /// callers locking overlapping sets take the locks in the same order (keys whose
    /// hashes collide share a lock), so they cannot deadlock.
    static let lockKeys = """
        SELECT pg_advisory_xact_lock(hashtext('queue.rate'), k.hash)
        FROM (SELECT DISTINCT hashtext(key) AS hash FROM unnest($1::text[]) AS key ORDER BY 1) AS k
        """

    /// Per key: the permits every rule still allows (`$1`–`$3`: one row per key and
    /// rule), granted up to the number asked for (`$4`, `$5`), one permit row each for
    /// job `$6`. Returns each key with the permits granted.
    static let takeCounted = """
        WITH rules AS (
            SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[]) AS r(key, permit_limit, window_ms)
        ), room AS (
            SELECT r.key, min(r.permit_limit - (
                       SELECT count(*) FROM queue.rate_limit_permits AS p
                       WHERE p.key = r.key AND p.taken_at > now() - r.window_ms * interval '1 millisecond')) AS free
            FROM rules AS r GROUP BY r.key
        ), granted AS (
            SELECT w.key, greatest(0, least(w.wanted, room.free)) AS permits
            FROM unnest($4::text[], $5::int8[]) AS w(key, wanted) JOIN room ON room.key = w.key
        ), taken AS (
            INSERT INTO queue.rate_limit_permits (key, job_id)
            SELECT g.key, $6::int8 FROM granted AS g, generate_series(1, g.permits)
        )
        SELECT key, permits FROM granted
        """

    /// Takes one permit for each of `limits`, in order, in two statements whatever
    /// their number: the set-based form of `take` for a job that acts for many
    /// (a batch of messages to many recipients). Limits sharing a key count each
    /// other: the first ones get the permits left under that key. Limits with the
    /// same key must have the same rules. Runs inside the caller's transaction, or
    /// its own. Returns, per limit, whether its permit was taken; for one that was
    /// not, `take` on its own says when one frees up.
    public static func take(_ limits: [RateLimit], jobID: Int64? = nil, on connection: PostgresConnection) throws -> [Bool] {
        var wanted: [String: Int64] = [:]
        var rulesByKey: [String: [Rule]] = [:]
        for limit in limits {
            if let rules = rulesByKey[limit.key], rules != limit.rules {
                throw JobQueueError.invalidJob("rate limit \(limit.key) was given with two different sets of rules")
            }
            rulesByKey[limit.key] = limit.rules
            wanted[limit.key, default: 0] += 1
        }
        guard !wanted.isEmpty else { return [] }
        let keys = Array(wanted.keys)
        let ruleRows = keys.flatMap { key in rulesByKey[key]!.map { (key, $0) } }
        let body = { (connection: PostgresConnection) throws -> [String: Int64] in
            try connection.query(Self.lockKeys, [keys])
            let rows = try connection.query(
                Self.takeCounted,
                [
                    ruleRows.map(\.0), ruleRows.map { Int64($0.1.limit) }, ruleRows.map { $0.1.window.milliseconds },
                    keys, keys.map { wanted[$0]! }, jobID,
                ])
            var granted: [String: Int64] = [:]
            for row in rows.rows { granted[try row.decode(0, as: String.self)] = try row.decode(1, as: Int64.self) }
            return granted
        }
        var left = connection.isInTransaction ? try body(connection) : try connection.withTransaction(body)
        return limits.map { limit in
            guard let permits = left[limit.key], permits > 0 else { return false }
            left[limit.key] = permits - 1
            return true
        }
    }
}
