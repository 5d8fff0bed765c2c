/// A bounded set of sessions shared by many tasks.
///
/// Checkout hands out an idle session (or makes one while under `maxConnections`),
/// else waits in FIFO order. Sessions are health-checked when used (see
/// `PostgresSession.withConnection`), so after a server restart the next checkout
/// reconnects transparently while a statement that was in flight fails with
/// `PostgresError.Kind.connectionLost`.
public actor PostgresPool {
    public nonisolated let configuration: PostgresConfiguration
    public nonisolated let maxConnections: Int
    private var idle: [PostgresSession] = []
    private var created = 0
    private var waiters: [CheckedContinuation<PostgresSession, Never>] = []
    private let name: String

    public init(configuration: PostgresConfiguration, maxConnections: Int = 10, name: String = "pool") {
        precondition(maxConnections > 0, "a pool needs at least one connection")
        self.configuration = configuration
        self.maxConnections = maxConnections
        self.name = name
    }

    /// Runs `body` on a pooled connection, on that connection's own thread.
    public nonisolated func withConnection<T: Sendable>(
        _ body: @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        let session = await checkout()
        do {
            let value = try await session.withConnection(body)
            await checkin(session)
            return value
        } catch {
            await checkin(session)
            throw error
        }
    }

    /// Convenience: one statement in its own implicit transaction.
    @discardableResult
    public nonisolated func query(
        _ sql: String, _ parameters: [any PostgresEncodable] = []
    ) async throws -> PostgresResult {
        try await withConnection { try $0.query(sql, parameters) }
    }

    /// Convenience: `body` inside `withTransaction`.
    public nonisolated func withTransaction<T: Sendable>(
        isolation: PostgresConnection.IsolationLevel? = nil, _ body: @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await withConnection { try $0.withTransaction(isolation: isolation, body) }
    }

    private func checkout() async -> PostgresSession {
        if let session = idle.popLast() { return session }
        if created < maxConnections {
            created += 1
            return PostgresSession(configuration: configuration, name: "\(name)-\(created)")
        }
        return await withCheckedContinuation { waiters.append($0) }
    }

    private func checkin(_ session: PostgresSession) {
        if !waiters.isEmpty {
            waiters.removeFirst().resume(returning: session)
        } else {
            idle.append(session)
        }
    }

    /// Drops idle connections (they close when their sessions are released).
    public func closeIdle() async {
        let sessions = idle
        idle.removeAll()
        created -= sessions.count
        for session in sessions { await session.disconnect() }
    }
}
