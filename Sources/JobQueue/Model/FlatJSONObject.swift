import Foundation

/// A JSON object of plain values only — integers, strings without escapes, booleans,
/// null — read in one pass, and decoded into a `Decodable` value without `JSONDecoder`:
/// the quick form of decoding a job's arguments (`JobArguments.decode`). Most jobs'
/// arguments are such objects (`{"order_id": 42}`), and on a worker that sleeps between
/// jobs `JSONDecoder` runs cold: ~75 µs for `{"sample": 1}` on the 2-core machine, this
/// ~30 µs (docs/performance-queue.md, "Start latency").
///
/// It is a shortcut, never a second verdict: it gives a value only where `JSONDecoder`
/// gives the same one. Any other text (a number with a fraction or exponent, an escape,
/// a nested value, a repeated key, anything malformed) reads as nil, and a type that asks
/// for anything but an integer, string or boolean field of the top-level object (a date,
/// a double, a nested container, a missing key …) gets nil too, even if it caught the
/// refusal itself; the caller then decodes with `JSONDecoder`, which also words every
/// refusal.
struct FlatJSONObject {
    enum Value: Equatable {
        case integer(Int)
        case string(String)
        case bool(Bool)
        case null
    }

    let fields: [String: Value]

    init?(_ text: String) {
        var text = text
        guard let fields = text.withUTF8({ Self.read($0) }) else { return nil }
        self.fields = fields
    }

    /// The value `JSONDecoder` would decode from this object, or nil when the type asks
    /// for more than this reader gives (see the type's comment).
    func decode<T: Decodable>(_ type: T.Type) -> T? {
        let decoder = FlatDecoder(fields: fields)
        guard let value = try? T(from: decoder), !decoder.refusal.asked else { return nil }
        return value
    }

    /// True when every field this object gives a value is one `value` encodes (null or
    /// not), as `JSONFieldPaths.allPresent` finds on `JSONEncoder`'s text, without
    /// encoding it; nil when `value` encodes anything but integers, strings, booleans and
    /// nulls into one top-level object, or a key `JSONEncoder` would write differently.
    func fieldsAreKnown(to value: some Encodable) -> Bool? {
        let encoder = FlatKeyRecorder()
        guard (try? value.encode(to: encoder)) != nil, !encoder.record.refused, encoder.record.isObject else { return nil }
        return fields.allSatisfy { $0.value == .null || encoder.record.keys.contains($0.key) }
    }

    private static func read(_ bytes: UnsafeBufferPointer<UInt8>) -> [String: Value]? {
        var index = 0
        var fields: [String: Value] = [:]
        func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }
        func next(is byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }
        /// A string without escapes or control characters, from its opening quote.
        func string() -> String? {
            guard next(is: 0x22) else { return nil }
            let start = index
            while index < bytes.count, bytes[index] != 0x22 {
                if bytes[index] == 0x5C || bytes[index] < 0x20 { return nil }
                index += 1
            }
            guard index < bytes.count else { return nil }
            defer { index += 1 }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        }
        func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard bytes.count - index >= count,
                memcmp(bytes.baseAddress! + index, text.utf8Start, count) == 0
            else { return false }
            index += count
            return true
        }
        /// An integer as JSON writes one (no leading zero, no fraction or exponent)
        /// that fits an `Int`.
        func integer() -> Int? {
            let negative = next(is: 0x2D)
            let start = index
            var value = 0
            while index < bytes.count, bytes[index] >= 0x30 && bytes[index] <= 0x39 {
                let digit = Int(bytes[index] - 0x30)
                let (times10, overflowA) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflowB) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
                if overflowA || overflowB { return nil }
                value = sum
                index += 1
            }
            let digits = index - start
            guard digits > 0, digits == 1 || bytes[start] != 0x30 else { return nil }
            return value
        }
        func value() -> Value? {
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case 0x22: return string().map(Value.string)
            case 0x74: return literal("true") ? .bool(true) : nil
            case 0x66: return literal("false") ? .bool(false) : nil
            case 0x6E: return literal("null") ? .null : nil
            case 0x2D, 0x30...0x39: return integer().map(Value.integer)
            default: return nil
            }
        }

        skipSpace()
        guard next(is: 0x7B) else { return nil }
        skipSpace()
        if !next(is: 0x7D) {
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                skipSpace()
                guard next(is: 0x3A) else { return nil }
                skipSpace()
                guard let value = value(), fields.updateValue(value, forKey: key) == nil else { return nil }
                skipSpace()
                if next(is: 0x2C) { continue }
                guard next(is: 0x7D) else { return nil }
                break
            }
        }
        skipSpace()
        return index == bytes.count ? fields : nil
    }
}

/// Whether a type asked a `FlatDecoder` for something it does not give; shared by the
/// decoder and its containers (a class: the containers are values).
private final class FlatRefusal {
    var asked = false
}

/// The top-level object only: integers, strings and booleans by key, null and presence.
private struct FlatDecoder: Decoder {
    let fields: [String: FlatJSONObject.Value]
    let refusal = FlatRefusal()
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    struct NotFlat: Error {}

    func refuse() -> NotFlat {
        refusal.asked = true
        return NotFlat()
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(FlatKeyedContainer<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw refuse() }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { throw refuse() }
}

private struct FlatKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: FlatDecoder
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { decoder.fields.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { decoder.fields[key.stringValue] != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let value = decoder.fields[key.stringValue] else { throw decoder.refuse() }
        return value == .null
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        guard case .bool(let value)? = decoder.fields[key.stringValue] else { throw decoder.refuse() }
        return value
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        guard case .string(let value)? = decoder.fields[key.stringValue] else { throw decoder.refuse() }
        return value
    }

    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(forKey: key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(forKey: key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(forKey: key) }

    private func integer<I: FixedWidthInteger>(forKey key: Key) throws -> I {
        guard case .integer(let value)? = decoder.fields[key.stringValue], let exact = I(exactly: value) else {
            throw decoder.refuse()
        }
        return exact
    }

    /// Every other type (other numbers, dates, nested values …): `JSONDecoder` decides.
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { throw decoder.refuse() }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> { throw decoder.refuse() }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { throw decoder.refuse() }
    func superDecoder() throws -> any Decoder { throw decoder.refuse() }
    func superDecoder(forKey key: Key) throws -> any Decoder { throw decoder.refuse() }
}

/// The keys a value's `encode(to:)` writes into its top-level object, when it writes only
/// integers, strings, booleans and nulls there under keys `JSONEncoder` writes as they are
/// (printable ASCII, no quote or backslash).
private final class FlatKeyRecord {
    var keys: Set<String> = []
    var isObject = false
    var refused = false
}

private struct FlatKeyRecorder: Encoder {
    let record = FlatKeyRecord()
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        record.isObject = true
        return KeyedEncodingContainer(FlatKeyedRecorder<Key>(record: record))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        record.refused = true
        return FlatRefusedContainer(record: record)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        record.refused = true
        return FlatRefusedContainer(record: record)
    }
}

private struct FlatKeyedRecorder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let record: FlatKeyRecord
    var codingPath: [any CodingKey] { [] }

    private func note(_ key: Key) {
        let plain = key.stringValue.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }
        if plain { record.keys.insert(key.stringValue) } else { record.refused = true }
    }

    mutating func encodeNil(forKey key: Key) throws { note(key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { note(key) }
    mutating func encode(_ value: String, forKey key: Key) throws { note(key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { note(key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { note(key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { note(key) }

    /// Every other type (a double may not encode at all, a date or nested value …):
    /// `JSONEncoder` decides.
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { record.refused = true }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        record.refused = true
        return KeyedEncodingContainer(FlatKeyedRecorder<NestedKey>(record: FlatKeyRecord()))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        record.refused = true
        return FlatRefusedContainer(record: record)
    }

    mutating func superEncoder() -> any Encoder {
        record.refused = true
        return FlatKeyRecorder()
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        record.refused = true
        return FlatKeyRecorder()
    }
}

/// What a refused request gets to write into: nothing it writes counts.
private struct FlatRefusedContainer: UnkeyedEncodingContainer, SingleValueEncodingContainer {
    let record: FlatKeyRecord
    var codingPath: [any CodingKey] { [] }
    var count: Int { 0 }

    mutating func encodeNil() throws {}
    mutating func encode<T: Encodable>(_ value: T) throws {}

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(FlatKeyedRecorder<NestedKey>(record: record))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { self }
    mutating func superEncoder() -> any Encoder { FlatKeyRecorder() }
}
