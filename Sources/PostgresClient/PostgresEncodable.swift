/// A Swift value that can be sent as a statement parameter (binary format, with
/// its type OID so the server never has to guess).
public protocol PostgresEncodable: Sendable {
    static var postgresType: PostgresDataType { get }
    /// Writes the value's binary representation (without a length prefix).
    func encode(into writer: inout PostgresByteWriter) throws
    /// Appends the value, or NULL, to a parameter list. Only `Optional` overrides this.
    func encodeParameter(into bindings: inout PostgresBindings) throws
}

extension PostgresEncodable {
    public func encodeParameter(into bindings: inout PostgresBindings) throws {
        try bindings.append(type: Self.postgresType) { try encode(into: &$0) }
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public static var postgresType: PostgresDataType { Wrapped.postgresType }

    public func encode(into writer: inout PostgresByteWriter) throws {
        guard let value = self else { throw PostgresError(kind: .encoding, message: "NULL has no binary form") }
        try value.encode(into: &writer)
    }

    public func encodeParameter(into bindings: inout PostgresBindings) throws {
        if let value = self {
            try value.encodeParameter(into: &bindings)
        } else {
            bindings.appendNull(type: Wrapped.postgresType)
        }
    }
}

/// Encoded parameters laid out the way `PQexecParams`/`PQexecPrepared` want them:
/// one byte buffer plus per-parameter type, offset and length (-1 for NULL).
public struct PostgresBindings: Sendable {
    var writer = PostgresByteWriter()
    public private(set) var types: [PostgresDataType] = []
    var offsets: [Int] = []
    var lengths: [Int32] = []

    public init() {}

    public init(_ values: [any PostgresEncodable]) throws {
        for value in values { try value.encodeParameter(into: &self) }
    }

    public var count: Int { types.count }

    public mutating func append(type: PostgresDataType, _ encode: (inout PostgresByteWriter) throws -> Void) rethrows {
        let start = writer.bytes.count
        try encode(&writer)
        types.append(type)
        offsets.append(start)
        lengths.append(Int32(writer.bytes.count - start))
    }

    public mutating func appendNull(type: PostgresDataType) {
        types.append(type)
        offsets.append(writer.bytes.count)
        lengths.append(-1)
    }

    mutating func removeAll() {
        writer.removeAll()
        types.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
    }

    /// Calls `body` with C arrays valid only for the duration of the call.
    func withUnsafeParameters<R>(
        _ body: (
            _ types: [UInt32], _ values: [UnsafePointer<CChar>?], _ lengths: [Int32], _ formats: [Int32]
        ) throws -> R
    ) rethrows -> R {
        try writer.bytes.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress.map { UnsafeRawPointer($0) }
            var values: [UnsafePointer<CChar>?] = []
            values.reserveCapacity(count)
            for index in 0..<count {
                if lengths[index] < 0 {
                    values.append(nil)
                } else if let base {
                    values.append((base + offsets[index]).assumingMemoryBound(to: CChar.self))
                } else {
                    // Zero-length non-NULL value (empty string) with an empty buffer.
                    values.append(emptyValue)
                }
            }
            return try body(types.map(\.rawValue), values, lengths, [Int32](repeating: 1, count: count))
        }
    }
}

private nonisolated(unsafe) let emptyValue: UnsafePointer<CChar> = {
    // A static, never-written, zero-length C string: safe to share across threads.
    let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
    pointer.initialize(to: 0)
    return UnsafePointer(pointer)
}()
