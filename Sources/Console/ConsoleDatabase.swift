public import PostgresClient

/// The console's connections: one small pool per console role (plus one for
/// logging in), each connection taking its database role at connection start
/// (`options=-c role=…`), so a viewer's request runs on a connection that cannot
/// write whatever the HTTP layer does. The login role itself should hold nothing
/// (NOINHERIT) besides membership of the four `cleaning_console*` roles.
public struct ConsoleDatabase: Sendable {
    /// Runs `console.log_in`, `console.session_of` and `console.log_out` only.
    public let sessions: PostgresPool
    private let pools: [ConsoleRole: PostgresPool]

    public static let sessionRole = "cleaning_console"

    public init(configuration: PostgresConfiguration, connectionsPerRole: Int = 2) {
        sessions = PostgresPool(
            configuration: Self.configuration(configuration, role: Self.sessionRole), maxConnections: connectionsPerRole,
            name: "console-sessions")
        var pools: [ConsoleRole: PostgresPool] = [:]
        for role in ConsoleRole.allCases {
            pools[role] = PostgresPool(
                configuration: Self.configuration(configuration, role: role.databaseRole),
                maxConnections: connectionsPerRole, name: "console-\(role.rawValue)")
        }
        self.pools = pools
    }

    /// The pool whose connections act as `role`.
    public func pool(for role: ConsoleRole) -> PostgresPool {
        pools[role]!
    }

    /// `configuration` with the role set at connection start; the role names are
    /// this module's constants (lower-case letters and underscores), never input.
    static func configuration(_ configuration: PostgresConfiguration, role: String) -> PostgresConfiguration {
        var changed = configuration
        let conninfo = configuration.conninfo
        if conninfo.contains("://") {
            changed.conninfo = conninfo + (conninfo.contains("?") ? "&" : "?") + "options=-c%20role%3D\(role)"
        } else {
            changed.conninfo = conninfo + (conninfo.isEmpty ? "" : " ") + "options='-c role=\(role)'"
        }
        return changed
    }
}
