/// What sits between this client and the server, as far as session state goes.
///
/// Behind PgBouncer in transaction pooling mode, consecutive transactions of one
/// client connection may run on different server connections, so nothing may
/// outlive a transaction on the server side: no named prepared statement, no
/// LISTEN, no session-level advisory lock or `SET`. PgBouncer 1.18 (Debian 12's)
/// cannot track prepared statements itself (`max_prepared_statements` came in
/// 1.21), so the client sends every statement as the unnamed one instead.
public enum PostgresPooling: String, Sendable, CaseIterable {
    /// A direct connection, or a pooler in session mode: statements are prepared
    /// once per connection under a name and reused; LISTEN works.
    case session
    /// A pooler in transaction mode: every statement is parsed, bound and run as
    /// the unnamed statement in one round trip (PQexecParams); a connection refuses
    /// what needs a session (LISTEN, migrations' session advisory lock).
    case transaction

    /// Named server-side prepared statements may be kept between transactions.
    public var keepsPreparedStatements: Bool { self == .session }
    /// LISTEN can hold its channel between transactions.
    public var allowsListen: Bool { self == .session }
}
