public import Foundation
public import PostgresClient

/// At most `limit` permits per `key` in any `window`, across every process: e.g.
/// 5 SMS per hour per phone number. Several rules can share a key (1 per minute,
/// 5 per hour, 10 per day): a permit is taken only if every rule allows it.
/// Permits are rows; taking one locks the key (a transaction advisory lock) so
/// concurrent takers count each other exactly.
public struct RateLimit: Sendable, Equatable {
    public struct Rule: Sendable, Equatable {
        public var limit: Int
        /// At most one day (permits older than two days are pruned).
        public var window: Duration

        public init(limit: Int, per window: Duration) {
            self.limit = max(1, limit)
            self.window = min(window, .seconds(86_400))
        }
    }

    public var key: String
    public var rules: [Rule]

    public init(key: String, limit: Int, per window: Duration) {
        self.init(key: key, rules: [Rule(limit: limit, per: window)])
    }

    public init(key: String, rules: [Rule]) {
        self.key = key
        self.rules = rules
    }

    static let lockKey = "SELECT pg_advisory_xact_lock(hashtext('queue.rate'), hashtext($1))"

    /// The `limit`-th most recent permit in the window: when it leaves the window,
    /// a permit frees up. No row means the key is under its limit.
    static let blockingPermit = """
        SELECT taken_at + $3 * interval '1 millisecond' FROM queue.rate_limit_permits
        WHERE key = $1 AND taken_at > now() - $3 * interval '1 millisecond'
        ORDER BY taken_at DESC
        OFFSET $2 - 1 LIMIT 1
        """

    static let take = "INSERT INTO queue.rate_limit_permits (key, job_id) VALUES ($1, $2)"

    /// Takes a permit on `connection` (inside the caller's transaction, or its own).
    /// Returns nil when taken, else the time a permit frees up.
    public func take(on connection: PostgresConnection, jobID: Int64? = nil) throws -> Date? {
        let body = { (connection: PostgresConnection) throws -> Date? in
            try connection.query(Self.lockKey, [key])
            var freeAt: Date?
            for rule in rules {
                let row = try connection.query(
                    Self.blockingPermit, [key, Int64(rule.limit), rule.window.milliseconds]
                ).first
                if let blockedUntil = try row?.decode(0, as: Date.self) {
                    freeAt = max(freeAt ?? blockedUntil, blockedUntil)
                }
            }
            if freeAt == nil { try connection.execute(Self.take, [key, jobID]) }
            return freeAt
        }
        return connection.isInTransaction ? try body(connection) : try connection.withTransaction(body)
    }
}

extension JobContext {
    /// Takes a permit under `limit` or snoozes this job until one frees up (the job
    /// runs again then, without using up an attempt).
    public func acquire(_ limit: RateLimit) async throws {
        let jobID = job.id
        let freeAt = try await database.withConnection { try limit.take(on: $0, jobID: jobID) }
        if let freeAt {
            let wait = max(0.05, freeAt.timeIntervalSinceNow)
            throw JobSnoozed(for: .milliseconds(Int64(wait * 1000) + 1))
        }
    }
}
