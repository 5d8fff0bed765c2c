public import Foundation
public import PostgresClient
import SeededRandom

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
        try takeOrBlock(on: connection, jobID: jobID)?.freeAt
    }

    /// Why no permit was taken: when one frees up, under the rule that frees last.
    struct Blocked: Sendable, Equatable {
        var freeAt: Date
        var rule: Rule
    }

    /// `take`, saying which rule blocked.
    func takeOrBlock(on connection: PostgresConnection, jobID: Int64?) throws -> Blocked? {
        let body = { (connection: PostgresConnection) throws -> Blocked? in
            try connection.query(Self.lockKey, [key])
            var blocked: Blocked?
            for rule in rules {
                let row = try connection.query(
                    Self.blockingPermit, [key, Int64(rule.limit), rule.window.milliseconds]
                ).first
                if let blockedUntil = try row?.decode(0, as: Date.self), blockedUntil > blocked?.freeAt ?? .distantPast {
                    blocked = Blocked(freeAt: blockedUntil, rule: rule)
                }
            }
            if blocked == nil { try connection.execute(Self.take, [key, jobID]) }
            return blocked
        }
        return connection.isInTransaction ? try body(connection) : try connection.withTransaction(body)
    }

    /// The most a snoozed job's return is put off past the moment a permit frees up.
    public static let maximumSnoozeSpread = Duration.seconds(30)

    /// How far past `blocked.freeAt` job `jobID`, refused a permit, comes back: a share
    /// of the blocking rule's permit interval (window ÷ limit, at most
    /// `maximumSnoozeSpread`), drawn by the project's seeded generator from the job id
    /// and the free moment. Jobs refused in the same window then return spread over
    /// that interval instead of all at the instant the first permit frees (a
    /// thundering herd against the limit); each still takes a permit, so the limit
    /// holds. The same job and moment always give the same share (tests predict it).
    static func snoozeSpread(jobID: Int64, _ blocked: Blocked) -> Duration {
        let interval = min(blocked.rule.window / blocked.rule.limit, maximumSnoozeSpread)
        let freeAtMilliseconds = Int64((blocked.freeAt.timeIntervalSince1970 * 1000).rounded())
        var random = SeededRandom(seed: UInt64(bitPattern: jobID) ^ UInt64(bitPattern: freeAtMilliseconds))
        return interval * Double.random(in: 0..<1, using: &random)
    }
}

extension JobContext {
    /// Takes a permit under `limit` or snoozes this job until one frees up, plus its
    /// share of a spread (`RateLimit.snoozeSpread`) so that jobs refused together do
    /// not all come back at once (the job runs again then, without using up an attempt).
    public func acquire(_ limit: RateLimit) async throws {
        let jobID = job.id
        let blocked = try await database.withConnection { try limit.takeOrBlock(on: $0, jobID: jobID) }
        if let blocked {
            let wait = max(0.05, blocked.freeAt.timeIntervalSinceNow) + RateLimit.snoozeSpread(jobID: jobID, blocked).seconds
            throw JobSnoozed(for: .milliseconds(Int64(wait * 1000) + 1))
        }
    }
}
