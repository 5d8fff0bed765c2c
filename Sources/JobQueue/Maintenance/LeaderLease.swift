public import PostgresClient

/// Elects one process to run the singleton services (scheduler, workflow
/// resolution, retention, priority aging) through a leased row: the holder renews
/// it; if the holder dies, another process takes over once the lease lapsed.
/// A leased row (rather than a session advisory lock) keeps working behind
/// transaction-pooling proxies and shows who leads (`maintenanceLeader`).
public struct LeaderLease: Sendable {
    let name: String
    let holder: String
    let duration: Duration

    /// Renews the lease, or takes it over once it lapsed. An update then, if no row was
    /// there, an insert (rather than one upsert whose conflict clause compares with
    /// `now()`, which Citus refuses on its reference table `queue.leaders`).
    static let renewOrTakeOver = """
        UPDATE queue.leaders SET holder = $2, expires_at = now() + $3 * interval '1 millisecond'
        WHERE name = $1 AND (holder = $2 OR expires_at < now())
        """

    static let acquireVacant = """
        INSERT INTO queue.leaders (name, holder, expires_at)
        VALUES ($1, $2, now() + $3 * interval '1 millisecond')
        ON CONFLICT (name) DO NOTHING
        """

    static let resign = "DELETE FROM queue.leaders WHERE name = $1 AND holder = $2"

    /// The lease of the singleton maintenance services.
    static let maintenance = "maintenance"

    static let currentHolder = "SELECT holder FROM queue.leaders WHERE name = $1 AND expires_at > now()"

    /// The worker leading the maintenance services now, if any (for operators and checks).
    public static func maintenanceLeader(on connection: PostgresConnection) throws -> String? {
        try connection.query(currentHolder, [maintenance]).first?.decode(0, as: String.self)
    }

    /// True when this process holds (or just renewed) the lease.
    func tryAcquire(on database: PostgresPool) async throws -> Bool {
        let parameters: [any PostgresEncodable] = [name, holder, duration.milliseconds]
        return try await database.withConnection { connection in
            try connection.execute(Self.renewOrTakeOver, parameters) == 1
                || connection.execute(Self.acquireVacant, parameters) == 1
        }
    }

    func resign(on database: PostgresPool) async {
        _ = try? await database.query(Self.resign, [name, holder])
    }
}
