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
    /// Column numbers by name, only for wide results; narrow ones are searched in
    /// order, which is cheaper than building a dictionary for every result.
    private let columnIndex: [String: Int]?
    private static let columnIndexThreshold = 8
    public let rowCount: Int
    /// Rows inserted/updated/deleted, from the command tag (0 when it has none).
    public let affectedRows: Int

    init(handle: OpaquePointer) {
        self.handle = handle
        let columns = Int(PQnfields(handle))
        var names: [String] = []
        var types: [PostgresDataType] = []
        if columns > 0 {
            names.reserveCapacity(columns)
            types.reserveCapacity(columns)
        }
        for column in 0..<columns {
            names.append(PQfname(handle, Int32(column)).map { String(cString: $0) } ?? "?column?")
            types.append(PostgresDataType(PQftype(handle, Int32(column))))
        }
        if columns > Self.columnIndexThreshold {
            var index: [String: Int] = [:]
            for (column, name) in names.enumerated() where index[name] == nil { index[name] = column }
            columnIndex = index
        } else {
            columnIndex = nil
        }
        columnNames = names
        columnTypes = types
        rowCount = Int(PQntuples(handle))
        let tag: UnsafeMutablePointer<CChar>? = PQcmdTuples(handle)
        affectedRows = tag.map { Self.parseCount($0) } ?? 0
    }

    deinit { PQclear(handle) }

    /// The row count of a command tag ("1" after one INSERT, "" when it has none),
    /// read without making a String per statement; 0 when it is not a number.
    private static func parseCount(_ text: UnsafePointer<CChar>) -> Int {
        var value = 0
        var length = 0
        while text[length] != 0 {
            let digit = Int(text[length]) - 48  // "0"
            // 18 digits always fit an Int; the server's counts are far below that.
            guard (0...9).contains(digit), length < 18 else { return 0 }
            value = value * 10 + digit
            length += 1
        }
        return value
    }

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
        // A name that appears twice (SELECT a.id, b.id) means its first column.
        let found = if let columnIndex { columnIndex[name] } else { columnNames.firstIndex(of: name) }
        guard let index = found else {
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
