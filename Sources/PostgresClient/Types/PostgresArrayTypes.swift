/// An element type that has a PostgreSQL array type, so `[Element]` is a parameter.
public protocol PostgresArrayElement: PostgresEncodable {
    static var postgresArrayType: PostgresDataType { get }
    /// Writes the element with its length prefix (-1 for NULL).
    func encodeElement(into writer: inout PostgresByteWriter) throws
}

extension PostgresArrayElement {
    public func encodeElement(into writer: inout PostgresByteWriter) throws {
        let at = writer.reserveLength()
        try encode(into: &writer)
        writer.patchLength(at: at)
    }
}

/// `[Int64?]`, `[String?]` …: arrays with NULL elements.
extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    public static var postgresArrayType: PostgresDataType { Wrapped.postgresArrayType }

    public func encodeElement(into writer: inout PostgresByteWriter) throws {
        switch self {
        case .some(let value): try value.encodeElement(into: &writer)
        case .none: writer.write(Int32(-1))
        }
    }
}

extension Int16: PostgresArrayElement { public static var postgresArrayType: PostgresDataType { .int2Array } }
extension Int32: PostgresArrayElement { public static var postgresArrayType: PostgresDataType { .int4Array } }
extension Int64: PostgresArrayElement { public static var postgresArrayType: PostgresDataType { .int8Array } }
extension Int: PostgresArrayElement { public static var postgresArrayType: PostgresDataType { .int8Array } }
extension String: PostgresArrayElement { public static var postgresArrayType: PostgresDataType { .textArray } }
extension Bool: PostgresArrayElement { public static var postgresArrayType: PostgresDataType { .boolArray } }
extension Double: PostgresArrayElement { public static var postgresArrayType: PostgresDataType { .float8Array } }

// Binary array layout: ndim, has-null flag, element OID, then per dimension
// (size, lower bound), then each element as length + bytes (-1 = NULL).
extension Array: PostgresEncodable where Element: PostgresArrayElement {
    public static var postgresType: PostgresDataType { Element.postgresArrayType }

    // A parameter reaches this through `any PostgresEncodable`, so the generic body runs
    // with a protocol call and a value-witness copy per element; the element types of
    // bulk statements (the enqueue's ten arrays of 1 000) get compiled copies instead.
    @_specialize(where Element == String)
    @_specialize(where Element == String?)
    @_specialize(where Element == Int64)
    @_specialize(where Element == Int64?)
    public func encode(into writer: inout PostgresByteWriter) throws {
        writer.write(Int32(isEmpty ? 0 : 1))
        writer.write(Int32(0))
        writer.write(Element.postgresType.rawValue)
        if !isEmpty {
            writer.write(Int32(count))
            writer.write(Int32(1))
        }
        for element in self {
            try element.encodeElement(into: &writer)
        }
    }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    // Compiled copies for the element types of bulk results (ids, queues), as for `encode`.
    @_specialize(where Element == Int64)
    @_specialize(where Element == String)
    public static func decode(from cell: PostgresCell) throws -> [Element] {
        var reader = try cell.reader(for: [Element].self)
        let dimensions = try reader.read(Int32.self)
        _ = try reader.read(Int32.self)  // has-null flag; NULL elements are seen per element
        let elementType = PostgresDataType(try reader.read(UInt32.self))
        if dimensions == 0 { return [] }
        guard dimensions == 1 else {
            throw PostgresError.decoding(
                "column \"\(cell.columnName)\" is a \(dimensions)-dimensional array; only 1 dimension decodes")
        }
        let count = Int(try reader.read(Int32.self))
        _ = try reader.read(Int32.self)  // lower bound
        guard count >= 0, count <= reader.remaining / 4 else { throw PostgresError.decoding("malformed array") }
        var result: [Element] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            let length = Int(try reader.read(Int32.self))
            let bytes = length < 0 ? nil : try reader.readBytes(length)
            let element = PostgresCell(type: elementType, bytes: bytes, elementAt: index + 1, of: cell)
            result.append(try Element.decode(from: element))
        }
        return result
    }
}
