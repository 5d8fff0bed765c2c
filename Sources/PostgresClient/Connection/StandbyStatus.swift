/// Whether a connection reads a hot standby, and how far behind the primary it is:
/// what a reader needs to know before trusting a figure read there.
public struct StandbyStatus: Sendable, Codable, Equatable {
    public var isStandby: Bool
    /// On a standby: 0 when it has replayed everything it received, else the seconds
    /// since the last replayed transaction committed on the primary. Nil on a primary,
    /// or on a standby that has replayed no transaction yet.
    public var replayLagSeconds: Double?

    static let query = """
        SELECT pg_is_in_recovery(),
               CASE WHEN NOT pg_is_in_recovery() THEN NULL
                    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END
        """

    public static func read(on database: PostgresPool) async throws -> StandbyStatus {
        let result = try await database.query(query)
        guard let row = result.rows.first else { return StandbyStatus(isStandby: false, replayLagSeconds: nil) }
        let (isStandby, lag) = try row.decode((Bool, Double?).self)
        return StandbyStatus(isStandby: isStandby, replayLagSeconds: lag)
    }
}
