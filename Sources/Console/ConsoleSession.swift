public import PostgresClient

/// A logged-in browser: who it is, what it may do, and the token its forms must
/// carry (the CSRF token, bound to this session).
public struct ConsoleSession: Sendable, Equatable {
    public var userName: String
    public var role: ConsoleRole
    public var csrfToken: String

    /// How long a session lasts after logging in.
    public static let lifetimeSeconds = 8 * 3600

    /// The session and its cookie token when the name and password match, else nil.
    /// The password travels only as a statement parameter; bcrypt runs in PostgreSQL.
    static func logIn(name: String, password: String, on pool: PostgresPool) async throws
        -> (session: ConsoleSession, token: String)?
    {
        let row = try await pool.query(
            "SELECT token, csrf_token, role FROM console.log_in($1, $2, make_interval(secs => $3))",
            [name, password, Int64(lifetimeSeconds)]
        ).first
        guard let row else { return nil }
        let (token, csrf, role) = try row.decode((String, String, String).self)
        guard let known = ConsoleRole(rawValue: role) else { return nil }
        return (ConsoleSession(userName: name, role: known, csrfToken: csrf), token)
    }

    /// The session a cookie token belongs to, while it lasts.
    static func find(token: String, on pool: PostgresPool) async throws -> ConsoleSession? {
        guard !token.isEmpty, token.count <= 128 else { return nil }
        guard let row = try await pool.query("SELECT user_name, role, csrf_token FROM console.session_of($1)", [token]).first
        else { return nil }
        let (name, role, csrf) = try row.decode((String, String, String).self)
        return ConsoleRole(rawValue: role).map { ConsoleSession(userName: name, role: $0, csrfToken: csrf) }
    }

    static func logOut(token: String, on pool: PostgresPool) async throws {
        try await pool.query("SELECT console.log_out($1)", [token])
    }

    /// Creates or replaces a user (an administrator's connection: the function is
    /// granted to no console role). Ends the user's sessions.
    public static func setUser(name: String, password: String, role: ConsoleRole, on connection: PostgresConnection) throws {
        try connection.query("SELECT console.set_user($1, $2, $3)", [name, password, role.rawValue])
    }
}
