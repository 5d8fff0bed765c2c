import CLibPQ
import Foundation

/// One libpq connection. Every call blocks its thread until the server answers.
///
/// Ownership: this class is deliberately **not** `Sendable`. A connection is owned
/// by exactly one `PostgresSession` actor (or one thread) at a time, because a libpq
/// `PGconn` must never be used from two threads at once. Code that needs a
/// connection from async code goes through `PostgresSession`/`PostgresPool`, which
/// run the blocking calls on a dedicated thread instead of Swift's cooperative pool.
public final class PostgresConnection {
    let handle: OpaquePointer
    public let configuration: PostgresConfiguration
    private var statements = PostgresStatementCache()
    /// Reused by `query(_:_:)` to encode parameters without allocating on every call.
    private var parameterScratch = PostgresBindings()
    private var statementCounter = 0
    private var savepointCounter = 0
    /// Prepared statements kept per connection before the cache is reset.
    static let statementCacheLimit = 512
    /// Parameter buffers larger than this are freed after the call instead of kept.
    static let parameterScratchLimit = 64 * 1024

    private init(handle: OpaquePointer, configuration: PostgresConfiguration) {
        self.handle = handle
        self.configuration = configuration
    }

    deinit { PQfinish(handle) }

    /// Opens a connection; on failure the error names host, port, database and user
    /// (never the password) and libpq's reason.
    public static func connect(_ configuration: PostgresConfiguration) throws -> PostgresConnection {
        // Parsed first: libpq's own parse errors quote fragments of the text, password included.
        _ = try configuration.settings()
        // Later entries override earlier ones, and the expanded conninfo sits last, so
        // our defaults apply only where the user's conninfo is silent.
        var keywords = ["connect_timeout", "fallback_application_name", "client_encoding"]
        var values = [String(configuration.connectTimeoutSeconds), configuration.applicationName, "UTF8"]
        if !configuration.conninfo.isEmpty {
            keywords.append("dbname")
            values.append(configuration.conninfo)
        }
        let handle: OpaquePointer? = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let handle else {
            throw PostgresError(kind: .connectionFailed, message: "out of memory allocating a libpq connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let target = describeTarget(handle)
            let reason = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(handle)
            throw PostgresError(
                kind: .connectionFailed,
                message: "could not connect to \(target): \(reason)",
                hint: "check DATABASE_URL (or the PG* variables) and that the server is running")
        }
        // Server notices ("relation already exists, skipping") are not errors; libpq's
        // default prints them to stderr, which would clutter every log.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        return PostgresConnection(handle: handle, configuration: configuration)
    }

    private static func describeTarget(_ handle: OpaquePointer) -> String {
        func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
            guard let pointer else { return nil }
            let value = String(cString: pointer)
            return value.isEmpty ? nil : value
        }
        let host = text(PQhost(handle)) ?? "localhost"
        let port = text(PQport(handle)) ?? "5432"
        let database = text(PQdb(handle)) ?? "?"
        let user = text(PQuser(handle)) ?? "?"
        return "PostgreSQL at \(host):\(port), database \"\(database)\", user \"\(user)\""
    }

    // MARK: State

    public enum TransactionStatus: Sendable { case idle, active, inTransaction, failedTransaction, unknown }

    public var transactionStatus: TransactionStatus {
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: .idle
        case PQTRANS_ACTIVE: .active
        case PQTRANS_INTRANS: .inTransaction
        case PQTRANS_INERROR: .failedTransaction
        default: .unknown
        }
    }

    public var isInTransaction: Bool {
        transactionStatus == .inTransaction || transactionStatus == .failedTransaction
    }

    /// False once libpq has seen the connection break.
    public var isOpen: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The server process id, as in `pg_stat_activity.pid`.
    public var backendPID: Int32 { PQbackendPID(handle) }

    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// Cheap check without a round trip: the connection is open, outside any
    /// transaction, and the server has not closed it (a restarted server leaves an
    /// error message and then EOF on the idle socket; libpq sees the EOF only on a
    /// read after the message, so this reads while the socket stays readable).
    public func isHealthy() -> Bool {
        guard isOpen, transactionStatus == .idle else { return false }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        guard descriptor.fd >= 0 else { return false }
        for _ in 0..<8 {
            descriptor.revents = 0
            guard poll(&descriptor, 1, 0) > 0 else { break }
            if PQconsumeInput(handle) == 0 { return false }
        }
        return isOpen
    }

    // MARK: Statements

    /// Runs one parameterized statement and returns its rows in binary format: on a
    /// session-pooled (direct) connection prepared once per connection and cached,
    /// on a transaction-pooled one sent as the unnamed statement (see `PostgresPooling`).
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> PostgresResult {
        // Encode into the connection's own buffers, taken out for the call (so even a
        // re-entrant call could not share them) and put back empty afterwards.
        var bindings = PostgresBindings()
        swap(&bindings, &parameterScratch)
        defer {
            bindings.removeAll()
            if bindings.writer.bytes.capacity <= Self.parameterScratchLimit { parameterScratch = bindings }
        }
        for parameter in parameters { try parameter.encodeParameter(into: &bindings) }
        return try query(sql, bindings: bindings)
    }

    @discardableResult
    public func query(_ sql: String, bindings: PostgresBindings) throws -> PostgresResult {
        guard configuration.pooling.keepsPreparedStatements else { return try runUnnamed(sql, bindings: bindings) }
        do {
            return try runPrepared(sql, bindings: bindings)
        } catch let error as PostgresError where isStalePreparedStatement(error) && transactionStatus == .idle {
            // The schema changed under a cached plan, or someone ran DISCARD ALL: prepare afresh once.
            statements.remove(sql: sql, types: bindings.types)
            return try runPrepared(sql, bindings: bindings)
        }
    }

    /// Runs a statement for its effect; returns the number of rows it touched.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> Int {
        try query(sql, parameters).affectedRows
    }

    /// Runs a script of several statements without parameters (simple protocol).
    /// Meant for migrations and fixed administrative commands, never for values.
    public func executeScript(_ sql: String) throws {
        let result = PQexec(handle, sql)
        _ = try check(result)
    }

    private func runPrepared(_ sql: String, bindings: PostgresBindings) throws -> PostgresResult {
        let name = try preparedName(sql, types: bindings.types)
        let count = Int32(bindings.count)
        // Explicit withCString: the implicit String-to-pointer conversion made a copy here.
        let result = name.withCString { name in
            bindings.withUnsafeParameters { values, lengths, formats in
                PQexecPrepared(handle, name, count, values, lengths, formats, 1)
            }
        }
        return try check(result)
    }

    /// Parse, bind and execute as the unnamed statement, in one round trip; nothing
    /// is left on the server connection after the call.
    private func runUnnamed(_ sql: String, bindings: PostgresBindings) throws -> PostgresResult {
        let count = Int32(bindings.count)
        let oids = bindings.types.map(\.rawValue)
        let result = sql.withCString { sql in
            bindings.withUnsafeParameters { values, lengths, formats in
                PQexecParams(handle, sql, count, oids, values, lengths, formats, 1)
            }
        }
        return try check(result)
    }

    private func preparedName(_ sql: String, types: [PostgresDataType]) throws -> String {
        if let name = statements.name(sql: sql, types: types) { return name }
        if statements.count >= Self.statementCacheLimit {
            try executeScript("DEALLOCATE ALL")
            statements.removeAll()
        }
        statementCounter += 1
        let name = "s\(statementCounter)"
        let oids = types.map(\.rawValue)
        let result = PQprepare(handle, name, sql, Int32(oids.count), oids)
        _ = try check(result)
        statements.insert(name, sql: sql, types: types)
        return name
    }

    private func isStalePreparedStatement(_ error: PostgresError) -> Bool {
        (error.sqlState == "0A000" && error.message.contains("cached plan")) || error.sqlState == "26000"
    }

    /// Turns a libpq result into a `PostgresResult` or the error it carries.
    func check(_ result: OpaquePointer?) throws -> PostgresResult {
        guard let result else { throw connectionError() }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_COPY_IN:
            return PostgresResult(handle: result)
        default:
            let error = serverError(result)
            PQclear(result)
            throw error
        }
    }

    private func serverError(_ result: OpaquePointer) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        let lost = PQstatus(handle) != CONNECTION_OK
        let primary = field(clibpq_diag_message_primary)
            ?? String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        return PostgresError(
            kind: lost ? .connectionLost : .server,
            message: primary.isEmpty ? "unknown error" : primary,
            sqlState: field(clibpq_diag_sqlstate),
            severity: field(clibpq_diag_severity),
            detail: field(clibpq_diag_message_detail),
            hint: field(clibpq_diag_message_hint),
            position: field(clibpq_diag_statement_position).flatMap { Int($0) },
            schema: field(clibpq_diag_schema_name),
            table: field(clibpq_diag_table_name),
            column: field(clibpq_diag_column_name),
            constraint: field(clibpq_diag_constraint_name))
    }

    func connectionError() -> PostgresError {
        let message = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
        return PostgresError(
            kind: isOpen ? .client : .connectionLost, message: message.isEmpty ? "no result from libpq" : message)
    }

    // MARK: Transactions

    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws.
    /// A body that swallowed a statement error leaves the transaction aborted; that
    /// is reported as an error instead of a silent rollback.
    @discardableResult
    public func withTransaction<T>(
        isolation: IsolationLevel? = nil, readOnly: Bool = false, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        guard transactionStatus == .idle else {
            throw PostgresError.client("withTransaction called inside a transaction; use withSavepoint to nest")
        }
        var begin = "BEGIN"
        if let isolation { begin += " ISOLATION LEVEL \(isolation.rawValue)" }
        if readOnly { begin += " READ ONLY" }
        try executeScript(begin)
        do {
            let value = try body(self)
            if transactionStatus == .failedTransaction {
                throw PostgresError.client(
                    "the transaction was aborted by a failed statement whose error was caught; rolled back")
            }
            try executeScript("COMMIT")
            return value
        } catch {
            rollbackIfOpen()
            throw error
        }
    }

    /// Runs `body` inside a savepoint of the current transaction; a throw rolls back
    /// only what `body` did.
    public func withSavepoint<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard isInTransaction else { throw PostgresError.client("withSavepoint needs an open transaction") }
        savepointCounter += 1
        let name = "sp_\(savepointCounter)"
        try executeScript("SAVEPOINT \(name)")
        do {
            let value = try body(self)
            try executeScript("RELEASE SAVEPOINT \(name)")
            return value
        } catch {
            if isOpen { try? executeScript("ROLLBACK TO SAVEPOINT \(name); RELEASE SAVEPOINT \(name)") }
            throw error
        }
    }

    func rollbackIfOpen() {
        if isOpen && isInTransaction { try? executeScript("ROLLBACK") }
    }

    // MARK: Identifiers

    /// Quotes an identifier (table, channel) for the few places SQL cannot take a parameter.
    public func quoteIdentifier(_ identifier: String) throws -> String {
        guard let quoted = PQescapeIdentifier(handle, identifier, identifier.utf8.count) else {
            throw PostgresError(kind: .encoding, message: "cannot quote identifier: \(connectionError().message)")
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }
}

/// Calls `body` with a NULL-terminated array of C strings built from `strings`.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
