public import Foundation

// Binary encodings of the scalar types the data layer supports. Decoders accept
// the closely related server types (int2/int4/int8 into any integer that can hold
// the value, numeric into integers and Double) and throw on anything else.

extension Bool: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresDataType { .bool }
    public func encode(into writer: inout PostgresByteWriter) { writer.write(UInt8(self ? 1 : 0)) }
    public static func decode(from cell: PostgresCell) throws -> Bool {
        guard cell.type == .bool else { throw cell.typeMismatch(Bool.self) }
        var reader = try cell.reader(for: Bool.self)
        return try reader.read(UInt8.self) != 0
    }
}

/// Reads any integer column (or an integral numeric) as Int64.
private func decodeInteger<T>(_ cell: PostgresCell, as swiftType: T.Type) throws -> Int64 {
    var reader = try cell.reader(for: T.self)
    switch cell.type {
    case .int2: return Int64(try reader.read(Int16.self))
    case .int4: return Int64(try reader.read(Int32.self))
    case .int8: return try reader.read(Int64.self)
    case .oid: return Int64(try reader.read(UInt32.self))
    case .numeric:
        let text = try PostgresNumeric.decodeString(&reader)
        guard let value = Int64(text) else {
            throw PostgresError.decoding(
                "column \"\(cell.columnName)\" holds numeric \(text), which is not an integer that fits \(T.self)")
        }
        return value
    default: throw cell.typeMismatch(T.self)
    }
}

private func narrow<T: FixedWidthInteger>(_ value: Int64, _ cell: PostgresCell) throws -> T {
    guard let narrowed = T(exactly: value) else {
        throw PostgresError.decoding("column \"\(cell.columnName)\" value \(value) does not fit \(T.self)")
    }
    return narrowed
}

extension Int16: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresDataType { .int2 }
    public func encode(into writer: inout PostgresByteWriter) { writer.write(self) }
    public static func decode(from cell: PostgresCell) throws -> Int16 {
        try narrow(try decodeInteger(cell, as: Int16.self), cell)
    }
}

extension Int32: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresDataType { .int4 }
    public func encode(into writer: inout PostgresByteWriter) { writer.write(self) }
    public static func decode(from cell: PostgresCell) throws -> Int32 {
        try narrow(try decodeInteger(cell, as: Int32.self), cell)
    }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresDataType { .int8 }
    public func encode(into writer: inout PostgresByteWriter) { writer.write(self) }
    public static func decode(from cell: PostgresCell) throws -> Int64 { try decodeInteger(cell, as: Int64.self) }
}

extension Int: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresDataType { .int8 }
    public func encode(into writer: inout PostgresByteWriter) { writer.write(Int64(self)) }
    public static func decode(from cell: PostgresCell) throws -> Int {
        try narrow(try decodeInteger(cell, as: Int.self), cell)
    }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresDataType { .float8 }
    public func encode(into writer: inout PostgresByteWriter) { writer.write(bitPattern) }
    public static func decode(from cell: PostgresCell) throws -> Double {
        var reader = try cell.reader(for: Double.self)
        switch cell.type {
        case .float8: return Double(bitPattern: try reader.read(UInt64.self))
        case .float4: return Double(Float(bitPattern: try reader.read(UInt32.self)))
        case .int2, .int4, .int8: return Double(try decodeInteger(cell, as: Double.self))
        case .numeric:
            let text = try PostgresNumeric.decodeString(&reader)
            guard let value = Double(text) else { throw cell.typeMismatch(Double.self) }
            return value
        default: throw cell.typeMismatch(Double.self)
        }
    }
}

extension String: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresDataType { .text }
    public func encode(into writer: inout PostgresByteWriter) { writer.write(utf8: self) }
    public static func decode(from cell: PostgresCell) throws -> String {
        let bytes = try cell.requireBytes(for: String.self)
        switch cell.type {
        case .text, .varchar, .bpchar, .name, .char, .unknown, .json:
            return String(decoding: bytes, as: UTF8.self)
        case .jsonb:
            guard bytes.first == 1 else { throw PostgresError.decoding("unsupported jsonb version") }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes.dropFirst()), as: UTF8.self)
        case .numeric:
            var reader = PostgresByteReader(bytes)
            return try PostgresNumeric.decodeString(&reader)
        default:
            // Enums and domains over text arrive with their own OIDs; they are text on the wire.
            if cell.type.rawValue >= 16384 { return String(decoding: bytes, as: UTF8.self) }
            throw cell.typeMismatch(String.self)
        }
    }
}

extension Data: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresDataType { .bytea }
    public func encode(into writer: inout PostgresByteWriter) { writer.write(bytes: self) }
    public static func decode(from cell: PostgresCell) throws -> Data {
        guard cell.type == .bytea else { throw cell.typeMismatch(Data.self) }
        return Data(try cell.requireBytes(for: Data.self))
    }
}

/// timestamptz travels as microseconds since 2000-01-01 00:00:00 UTC.
private let postgresEpoch: TimeInterval = 946_684_800

extension Date: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresDataType { .timestamptz }
    /// PostgreSQL counts microseconds from 2000-01-01, Foundation seconds from
    /// 2001-01-01: converting through the 2001 reference with integer offsets rounds
    /// once, so every microsecond round-trips exactly (through 1970 it would not).
    static let postgresEpochFromReference: Int64 = -31_622_400_000_000

    public func encode(into writer: inout PostgresByteWriter) {
        let micros = (timeIntervalSinceReferenceDate * 1_000_000).rounded()
        guard let exact = Int64(exactly: micros),
            exact > Int64.min - Self.postgresEpochFromReference + 1, exact < Int64.max + Self.postgresEpochFromReference - 1
        else {
            writer.write(micros > 0 ? Int64.max : Int64.min)
            return
        }
        writer.write(exact - Self.postgresEpochFromReference)
    }
    public static func decode(from cell: PostgresCell) throws -> Date {
        var reader = try cell.reader(for: Date.self)
        switch cell.type {
        case .timestamptz, .timestamp:
            let micros = try reader.read(Int64.self)
            if micros == Int64.max { return .distantFuture }
            if micros == Int64.min { return .distantPast }
            let (sinceReference, overflow) = micros.addingReportingOverflow(postgresEpochFromReference)
            if overflow { return .distantPast }
            return Date(timeIntervalSinceReferenceDate: Double(sinceReference) / 1_000_000)
        case .date:
            let days = try reader.read(Int32.self)
            if days == Int32.max { return .distantFuture }
            if days == Int32.min { return .distantPast }
            return Date(timeIntervalSince1970: postgresEpoch + Double(days) * 86_400)
        default: throw cell.typeMismatch(Date.self)
        }
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresDataType { .uuid }
    public func encode(into writer: inout PostgresByteWriter) {
        withUnsafeBytes(of: uuid) { writer.write(bytes: $0) }
    }
    public static func decode(from cell: PostgresCell) throws -> UUID {
        guard cell.type == .uuid else { throw cell.typeMismatch(UUID.self) }
        let bytes = try cell.requireBytes(for: UUID.self)
        guard bytes.count == 16 else { throw PostgresError.decoding("uuid of \(bytes.count) bytes") }
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: bytes) }
        return UUID(uuid: value)
    }
}

/// A JSON value stored as jsonb, encoded and decoded with `Codable`.
public struct PostgresJSON<Value: Codable & Sendable>: PostgresEncodable, PostgresDecodable, Sendable {
    public var value: Value
    public init(_ value: Value) { self.value = value }

    public static var postgresType: PostgresDataType { .jsonb }

    public func encode(into writer: inout PostgresByteWriter) throws {
        let data: Data
        do { data = try JSONEncoder().encode(value) } catch {
            throw PostgresError(kind: .encoding, message: "cannot encode \(Value.self) as JSON: \(error)")
        }
        writer.write(UInt8(1))
        writer.write(bytes: data)
    }

    public static func decode(from cell: PostgresCell) throws -> PostgresJSON<Value> {
        var bytes = try cell.requireBytes(for: Value.self)
        switch cell.type {
        case .jsonb:
            guard bytes.first == 1 else { throw PostgresError.decoding("unsupported jsonb version") }
            bytes = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
        case .json: break
        default: throw cell.typeMismatch(Value.self)
        }
        do {
            return PostgresJSON(try JSONDecoder().decode(Value.self, from: Data(bytes)))
        } catch {
            throw PostgresError.decoding("column \"\(cell.columnName)\" JSON does not decode as \(Value.self): \(error)")
        }
    }
}

/// `numeric` arrives as base-10000 digit groups; this renders it exactly as text.
enum PostgresNumeric {
    static func decodeString(_ reader: inout PostgresByteReader) throws -> String {
        let digitCount = Int(try reader.read(Int16.self))
        let weight = Int(try reader.read(Int16.self))
        let sign = try reader.read(UInt16.self)
        let scale = Int(try reader.read(Int16.self))
        switch sign {
        case 0xC000: return "NaN"
        case 0xD000: return "Infinity"
        case 0xF000: return "-Infinity"
        default: break
        }
        guard digitCount >= 0 else { throw PostgresError.decoding("malformed numeric") }
        var digits: [Int16] = []
        for _ in 0..<digitCount { digits.append(try reader.read(Int16.self)) }
        func group(_ index: Int) -> Int16 { index >= 0 && index < digits.count ? digits[index] : 0 }

        var integer = ""
        if weight < 0 {
            integer = "0"
        } else {
            for index in 0...weight {
                let value = String(group(index))
                integer += index == 0 ? value : String(repeating: "0", count: 4 - value.count) + value
            }
        }
        var text = (sign == 0x4000 ? "-" : "") + integer
        if scale > 0 {
            var fraction = ""
            var index = weight + 1
            while fraction.count < scale {
                let value = String(group(index))
                fraction += String(repeating: "0", count: 4 - value.count) + value
                index += 1
            }
            text += "." + fraction.prefix(scale)
        }
        return text
    }
}
