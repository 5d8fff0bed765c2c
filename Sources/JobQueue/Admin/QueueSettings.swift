import PostgresClient

/// A producer's copy of its queue's row in `queue.queues`, re-read every second.
/// Pausing is also enforced inside the claim statement itself, so this copy only
/// saves round trips; the concurrency limit decides which claim statement runs.
struct QueueSettings: Sendable {
    var paused: Bool
    var hasConcurrencyLimit: Bool
    var readAt: ContinuousClock.Instant?

    static let unknown = QueueSettings(paused: false, hasConcurrencyLimit: false, readAt: nil)
    static let maxAge = Duration.seconds(1)

    var isStale: Bool { readAt.map { ContinuousClock.now - $0 >= Self.maxAge } ?? true }
    /// Half its age limit old: re-read it now, before the listener finds it stale.
    var isAging: Bool { readAt.map { ContinuousClock.now - $0 >= Self.maxAge / 2 } ?? true }

    static func read(_ queue: String, on database: PostgresPool) async throws -> QueueSettings {
        let row = try await database.query(
            "SELECT paused, concurrency_limit IS NOT NULL FROM queue.queues WHERE name = $1", [queue]
        ).first
        let (paused, limited) = try row?.decode((Bool, Bool).self) ?? (false, false)
        return QueueSettings(paused: paused, hasConcurrencyLimit: limited, readAt: .now)
    }
}
