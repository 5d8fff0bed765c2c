/// Appends values in PostgreSQL's binary wire format (big-endian).
public struct PostgresByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func write<I: FixedWidthInteger>(_ value: I) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(bytes other: some Sequence<UInt8>) { bytes.append(contentsOf: other) }

    public mutating func write(utf8 string: String) { bytes.append(contentsOf: string.utf8) }

    mutating func reserveLength() -> Int {
        let at = bytes.count
        write(Int32(0))
        return at
    }

    /// Fills a length placeholder with the number of bytes written after it.
    mutating func patchLength(at offset: Int) {
        let length = Int32(bytes.count - offset - 4).bigEndian
        withUnsafeBytes(of: length) { raw in
            for index in 0..<4 { bytes[offset + index] = raw[index] }
        }
    }

    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }
}

/// Reads PostgreSQL's binary wire format out of a result cell. Every read is
/// bounds-checked and throws instead of trapping: the server's bytes are input.
public struct PostgresByteReader {
    let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var remaining: Int { bytes.count - offset }

    public mutating func read<I: FixedWidthInteger>(_: I.Type = I.self) throws -> I {
        let size = MemoryLayout<I>.size
        guard remaining >= size else { throw PostgresError.decoding("value truncated: need \(size) bytes") }
        let value = I(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: I.self))
        offset += size
        return value
    }

    public mutating func readBytes(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0, remaining >= count else { throw PostgresError.decoding("value truncated: need \(count) bytes") }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        offset += count
        return slice
    }
}
