import Foundation

/// Job arguments that can never work: missing or mistyped fields, values out of
/// range, unknown fields. Refused at enqueue; a job that holds such arguments
/// anyway (built by SQL, or by an older version) is discarded at once.
public struct JobArgumentsError: PermanentJobFailure, CustomStringConvertible, Equatable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "invalid arguments: \(reason)" }

    /// Row ids are identity columns starting at 1: zero or a negative id names no row.
    public static func requireID(_ value: Int64, _ field: String) throws(JobArgumentsError) {
        if value < 1 { throw JobArgumentsError("\(field) must be a row id (1 or more), got \(value)") }
    }

    /// The first field of `given` (dotted path) that decoding did not take up,
    /// i.e. that is absent from the re-encoded value `known`. A null given for a
    /// field that was left out when re-encoding is an absent optional, not unknown.
    static func firstUnknownField(given: Any, known: Any, path: String = "") -> String? {
        guard let given = given as? [String: Any] else { return nil }
        let known = known as? [String: Any] ?? [:]
        for key in given.keys.sorted() {
            let value = given[key]!
            let field = path.isEmpty ? key : "\(path).\(key)"
            guard let knownValue = known[key] else {
                if value is NSNull { continue }
                return field
            }
            if let unknown = firstUnknownField(given: value, known: knownValue, path: field) { return unknown }
        }
        return nil
    }

    static func describe(_ error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        switch decoding {
        case .keyNotFound(let key, let context):
            return "missing field \"\(path(context.codingPath + [key]))\""
        case .typeMismatch(let type, let context):
            return "field \"\(path(context.codingPath))\" is not \(type)"
        case .valueNotFound(let type, let context):
            return "field \"\(path(context.codingPath))\" is null, expected \(type)"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "not a JSON object of the expected shape, or a number out of range (\(context.debugDescription))"
        case .dataCorrupted(let context):
            return "\(context.debugDescription) at \"\(path(context.codingPath))\""
        @unknown default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}
