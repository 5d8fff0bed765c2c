import CLibPQ

/// The rows of one statement, in binary format.
///
/// `@unchecked Sendable`: the wrapped `PGresult` is never modified after
/// `PQexec*` returns it (libpq documents results as independent of their
/// connection and safe to read from any thread); it is freed once, in `deinit`.
public final class PostgresResult: @unchecked Sendable {
    private let handle: OpaquePointer
    public let columnNames: [String]
    private let columnTypes: [PostgresDataType]
    private let columnIndex: [String: Int]
    public let rowCount: Int
    /// Rows inserted/updated/deleted, from the command tag (0 when it has none).
    public let affectedRows: Int

    init(handle: OpaquePointer) {
        self.handle = handle
        let columns = Int(PQnfields(handle))
        var names: [String] = []
        var types: [PostgresDataType] = []
        var index: [String: Int] = [:]
        for column in 0..<columns {
            let name = PQfname(handle, Int32(column)).map { String(cString: $0) } ?? "?column?"
            names.append(name)
            types.append(PostgresDataType(PQftype(handle, Int32(column))))
            if index[name] == nil { index[name] = column }
        }
        columnNames = names
        columnTypes = types
        columnIndex = index
        rowCount = Int(PQntuples(handle))
        affectedRows = PQcmdTuples(handle).flatMap { Int(String(cString: $0)) } ?? 0
    }

    deinit { PQclear(handle) }

    public var rows: [PostgresRow] { (0..<rowCount).map { PostgresRow(result: self, index: $0) } }

    public var first: PostgresRow? { rowCount > 0 ? PostgresRow(result: self, index: 0) : nil }

    /// The single value of a one-row, one-column result (e.g. `SELECT count(*)`).
    public func scalar<T: PostgresDecodable>(_: T.Type = T.self) throws -> T {
        guard let row = first else { throw PostgresError.decoding("expected one row, got none") }
        return try row.decode(0, as: T.self)
    }

    func cell(row: Int, column: Int) -> PostgresCell {
        let bytes: UnsafeRawBufferPointer?
        if PQgetisnull(handle, Int32(row), Int32(column)) == 1 {
            bytes = nil
        } else {
            let length = Int(PQgetlength(handle, Int32(row), Int32(column)))
            bytes = UnsafeRawBufferPointer(start: PQgetvalue(handle, Int32(row), Int32(column)), count: length)
        }
        return PostgresCell(type: columnTypes[column], bytes: bytes, columnName: columnNames[column])
    }

    func columnNumber(_ name: String) throws -> Int {
        guard let index = columnIndex[name] else {
            throw PostgresError.decoding(
                "no column \"\(name)\" in the result (columns: \(columnNames.joined(separator: ", ")))")
        }
        return index
    }
}

/// One row of a `PostgresResult`; it keeps the result alive.
public struct PostgresRow: Sendable {
    let result: PostgresResult
    let index: Int

    public func decode<T: PostgresDecodable>(_ column: String, as _: T.Type = T.self) throws -> T {
        try decode(try result.columnNumber(column), as: T.self)
    }

    public func decode<T: PostgresDecodable>(_ column: Int, as _: T.Type = T.self) throws -> T {
        guard column >= 0, column < result.columnNames.count else {
            throw PostgresError.decoding("column index \(column) out of range (\(result.columnNames.count) columns)")
        }
        return try T.decode(from: result.cell(row: index, column: column))
    }

    /// Decodes the leading columns in order: `let (id, name) = try row.decode((Int64, String).self)`.
    public func decode<each T: PostgresDecodable>(_: (repeat each T).Type) throws -> (repeat each T) {
        var column = 0
        func next<U: PostgresDecodable>(_: U.Type) throws -> U {
            defer { column += 1 }
            return try decode(column, as: U.self)
        }
        return (repeat try next((each T).self))
    }
}
