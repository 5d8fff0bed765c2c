import CLibPQ

/// Streams rows into `COPY … FROM STDIN (FORMAT binary)`. Values use the same
/// binary encodings as parameters, so the Swift types must match the columns'
/// types exactly (Int64 for bigint, Int32 for integer …); a mismatch is a server error.
public final class PostgresCopyWriter {
    private let connection: PostgresConnection
    private var buffer = PostgresByteWriter()
    private var row = PostgresBindings()
    public private(set) var rowsWritten = 0
    private static let flushThreshold = 256 * 1024

    init(connection: PostgresConnection) {
        self.connection = connection
        buffer.write(bytes: Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00])
        buffer.write(Int32(0))  // flags
        buffer.write(Int32(0))  // header extension length
    }

    public func append(_ values: [any PostgresEncodable]) throws {
        row.removeAll()
        for value in values { try value.encodeParameter(into: &row) }
        buffer.write(Int16(values.count))
        row.writer.bytes.withUnsafeBufferPointer { bytes in
            for index in 0..<row.count {
                let length = row.lengths[index]
                buffer.write(length)
                if length > 0 {
                    buffer.write(bytes: UnsafeBufferPointer(rebasing: bytes[row.offsets[index]..<row.offsets[index] + Int(length)]))
                }
            }
        }
        rowsWritten += 1
        if buffer.bytes.count >= Self.flushThreshold { try flush() }
    }

    func flush() throws {
        guard !buffer.bytes.isEmpty else { return }
        let status = buffer.bytes.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { PQputCopyData(connection.handle, $0.baseAddress, Int32($0.count)) }
        }
        guard status == 1 else { throw connection.connectionError() }
        buffer.removeAll()
    }

    func finish() throws {
        buffer.write(Int16(-1))
        try flush()
    }
}

extension PostgresConnection {
    /// Bulk-loads rows with binary COPY. `table` may be schema-qualified
    /// (`schema.table`); names are quoted. Returns the number of rows loaded.
    /// If `body` throws, the COPY is aborted and nothing is loaded.
    @discardableResult
    public func copyFrom(
        table: String, columns: [String], _ body: (PostgresCopyWriter) throws -> Void
    ) throws -> Int {
        let target = try table.split(separator: ".").map { try quoteIdentifier(String($0)) }.joined(separator: ".")
        let columnList = try columns.map { try quoteIdentifier($0) }.joined(separator: ", ")
        let start = PQexec(handle, "COPY \(target) (\(columnList)) FROM STDIN (FORMAT binary)")
        _ = try check(start)
        let writer = PostgresCopyWriter(connection: self)
        do {
            try body(writer)
            try writer.finish()
        } catch {
            _ = PQputCopyEnd(handle, "aborted by the client: \(error)")
            drainResults()
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else { throw connectionError() }
        var loaded: PostgresResult?
        var failure: (any Error)?
        while let result = PQgetResult(handle) {
            do { loaded = try check(result) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
        return loaded?.affectedRows ?? writer.rowsWritten
    }

    private func drainResults() {
        while let result = PQgetResult(handle) { PQclear(result) }
    }
}
