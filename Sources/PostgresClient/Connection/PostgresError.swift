/// An error from the data layer. Server errors carry the fields PostgreSQL sends
/// (SQLSTATE, detail, hint, constraint …) so callers can branch on them instead of
/// parsing messages.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The server rejected a statement (see `sqlState`).
        case server
        /// A connection could not be established.
        case connectionFailed
        /// The connection broke while in use (server restart, network failure).
        case connectionLost
        /// A column could not be decoded as the requested Swift type.
        case decoding
        /// A parameter could not be encoded.
        case encoding
        /// Misuse of the API (e.g. nested transaction) or an unexpected protocol state.
        case client
    }

    public var kind: Kind
    public var message: String
    public var sqlState: String?
    public var severity: String?
    public var detail: String?
    public var hint: String?
    public var position: Int?
    public var schema: String?
    public var table: String?
    public var column: String?
    public var constraint: String?

    public init(
        kind: Kind, message: String, sqlState: String? = nil, severity: String? = nil, detail: String? = nil,
        hint: String? = nil, position: Int? = nil, schema: String? = nil, table: String? = nil,
        column: String? = nil, constraint: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.severity = severity
        self.detail = detail
        self.hint = hint
        self.position = position
        self.schema = schema
        self.table = table
        self.column = column
        self.constraint = constraint
    }

    public var description: String {
        var text: String
        switch kind {
        case .server: text = "\(severity ?? "ERROR"): \(message)"
        case .connectionFailed: text = "connection failed: \(message)"
        case .connectionLost: text = "connection lost: \(message)"
        case .decoding: text = "decoding error: \(message)"
        case .encoding: text = "encoding error: \(message)"
        case .client: text = message
        }
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += "\nDETAIL: \(detail)" }
        if let hint { text += "\nHINT: \(hint)" }
        return text
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }
    public var isForeignKeyViolation: Bool { sqlState == "23503" }
    public var isCheckViolation: Bool { sqlState == "23514" }
    public var isSerializationFailure: Bool { sqlState == "40001" }
    public var isDeadlock: Bool { sqlState == "40P01" }
    public var isLockNotAvailable: Bool { sqlState == "55P03" }
    public var isQueryCanceled: Bool { sqlState == "57014" }
    /// Lost, or never had, a usable connection: retrying on a fresh connection may work.
    public var isConnectionProblem: Bool {
        kind == .connectionLost || kind == .connectionFailed || (sqlState?.hasPrefix("08") ?? false)
            || sqlState == "57P01" || sqlState == "57P02" || sqlState == "57P03"
    }
    /// A transaction failing with this may succeed if simply run again.
    public var isTransientTransactionFailure: Bool { isSerializationFailure || isDeadlock }

    static func client(_ message: String) -> PostgresError { PostgresError(kind: .client, message: message) }
    static func decoding(_ message: String) -> PostgresError { PostgresError(kind: .decoding, message: message) }
}
