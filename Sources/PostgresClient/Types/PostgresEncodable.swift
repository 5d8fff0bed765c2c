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

    /// Calls `body` with the C arrays `PQexecPrepared` takes (values, lengths,
    /// formats), valid only for the duration of the call. The value pointers and
    /// formats live in temporary (stack) storage, so this allocates nothing per call.
    func withUnsafeParameters<R>(
        _ body: (
            _ values: UnsafePointer<UnsafePointer<CChar>?>?, _ lengths: UnsafePointer<Int32>?,
            _ formats: UnsafePointer<Int32>?
        ) -> R
    ) -> R {
        let count = self.count
        return writer.bytes.withUnsafeBufferPointer { buffer in
            withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count) { values in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: count) { formats in
                    let base = buffer.baseAddress.map { UnsafeRawPointer($0) }
                    for index in 0..<count {
                        let value: UnsafePointer<CChar>?
                        if lengths[index] < 0 {
                            value = nil
                        } else if let base {
                            value = (base + offsets[index]).assumingMemoryBound(to: CChar.self)
                        } else {
                            // Zero-length non-NULL value (empty string) with an empty buffer.
                            value = emptyValue
                        }
                        values.initializeElement(at: index, to: value)
                    }
                    // Binary format for every parameter.
                    formats.initialize(repeating: 1)
                    return lengths.withUnsafeBufferPointer { lengths in
                        body(UnsafePointer(values.baseAddress), lengths.baseAddress, UnsafePointer(formats.baseAddress))
                    }
                }
            }
        }
    }
}

private nonisolated(unsafe) let emptyValue: UnsafePointer<CChar> = {
    // A static, never-written, zero-length C string: safe to share across threads.
    let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
    pointer.initialize(to: 0)
    return UnsafePointer(pointer)
}()
