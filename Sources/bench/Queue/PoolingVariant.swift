import PostgresClient

/// One way of reaching the server that `bench queue pooling` compares: the two
/// statement modes on a direct connection, and PgBouncer in transaction mode.
enum PoolingVariant: CaseIterable, Sendable {
    /// Named prepared statements cached per connection (the default).
    case directPrepared
    /// The unnamed statement for every call, on a direct connection: the client's
    /// share of the cost of running behind a transaction-pooling PgBouncer.
    case directUnnamed
    /// Through PgBouncer (pool_mode=transaction), unnamed statements; the worker
    /// LISTENs on a direct connection, as `--listen-url` would have it.
    case pgbouncer

    var title: String {
        switch self {
        case .directPrepared: "direct, prepared statements"
        case .directUnnamed: "direct, unnamed statements"
        case .pgbouncer: "PgBouncer transaction mode, unnamed"
        }
    }

    /// Where this variant's clients connect (`direct` and `pooled` reach the same database).
    func configuration(direct: PostgresConfiguration, pooled: PostgresConfiguration) -> PostgresConfiguration {
        var configuration = self == .pgbouncer ? pooled : direct
        configuration.pooling = self == .directPrepared ? .session : .transaction
        return configuration
    }
}
