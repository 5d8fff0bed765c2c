/// A Swift type that can be read from a result column (binary format).
public protocol PostgresDecodable {
    static func decode(from cell: PostgresCell) throws -> Self
}

/// One value of one row, valid only while its result is alive (decoding copies
/// what it keeps).
public struct PostgresCell {
    public let type: PostgresDataType
    /// `nil` for SQL NULL.
    public let bytes: UnsafeRawBufferPointer?
    private let column: String
    /// The 1-based position of an array's element, whose cell this is.
    private let elementPosition: Int?

    /// The column's name (with the position of an array's element), for error messages;
    /// built only when asked, not for each element of an array decoded.
    public var columnName: String { elementPosition.map { "\(column)[\($0)]" } ?? column }

    public init(type: PostgresDataType, bytes: UnsafeRawBufferPointer?, columnName: String) {
        self.type = type
        self.bytes = bytes
        self.column = columnName
        self.elementPosition = nil
    }

    /// The cell of the element at 1-based `position` of the array in `array`.
    init(type: PostgresDataType, bytes: UnsafeRawBufferPointer?, elementAt position: Int, of array: PostgresCell) {
        self.type = type
        self.bytes = bytes
        self.column = array.columnName
        self.elementPosition = position
    }

    public var isNull: Bool { bytes == nil }

    /// The bytes of a non-NULL value; NULL into a non-optional Swift type is an error.
    public func requireBytes<T>(for swiftType: T.Type) throws -> UnsafeRawBufferPointer {
        guard let bytes else {
            throw PostgresError.decoding(
                "column \"\(columnName)\" is NULL; decode it as \(T.self)? (Optional) to accept NULL")
        }
        return bytes
    }

    public func reader<T>(for swiftType: T.Type) throws -> PostgresByteReader {
        PostgresByteReader(try requireBytes(for: swiftType))
    }

    public func typeMismatch<T>(_ swiftType: T.Type) -> PostgresError {
        PostgresError.decoding("column \"\(columnName)\" has type \(type) and cannot be decoded as \(T.self)")
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Wrapped? {
        cell.isNull ? nil : try Wrapped.decode(from: cell)
    }
}
