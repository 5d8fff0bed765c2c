/// An actor that owns one connection and runs every call on a dedicated thread.
///
/// This is how async code uses the blocking `PostgresConnection` safely: the
/// connection lives inside the actor and is only touched from `withConnection`'s
/// body, which runs synchronously on the session's own thread. The body gets the
/// connection as a borrowed parameter; it must not store it elsewhere.
public actor PostgresSession {
    private let executor: PostgresThreadExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public nonisolated let configuration: PostgresConfiguration
    private var connection: PostgresConnection?

    public init(configuration: PostgresConfiguration, name: String = "postgres") {
        self.configuration = configuration
        self.executor = PostgresThreadExecutor(name: name)
    }

    /// Runs `body` with the session's connection, connecting (or reconnecting after
    /// a broken connection) first. If `body` leaves a transaction open, it is rolled
    /// back; if the connection broke, the next call connects anew.
    public func withConnection<T: Sendable>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try usableConnection()
        defer {
            if connection.isOpen {
                connection.rollbackIfOpen()
            } else {
                self.connection = nil
            }
        }
        return try body(connection)
    }

    private func usableConnection() throws -> PostgresConnection {
        if let connection, connection.isHealthy() { return connection }
        connection = nil
        let fresh = try PostgresConnection.connect(configuration)
        connection = fresh
        return fresh
    }

    /// Closes the connection now; a later call reconnects.
    public func disconnect() {
        connection = nil
    }
}
