import Foundation

/// How the runtime treats one kind of job.
public struct JobKindOptions: Sendable {
    /// A handler running longer is cancelled and the attempt fails.
    public var timeout: Duration?
    public var retryPolicy: RetryPolicy

    public init(timeout: Duration? = nil, retryPolicy: RetryPolicy = .default) {
        self.timeout = timeout
        self.retryPolicy = retryPolicy
    }
}

/// The handlers a worker runs, by kind. Arguments are decoded to the handler's
/// `JobArguments` type; a job whose arguments do not decode is discarded with the
/// decoding error, never retried (no retry can fix its input).
public struct JobHandlerRegistry: Sendable {
    struct Entry: Sendable {
        var options: JobKindOptions
        var run: @Sendable (_ argumentsJSON: String, _ context: JobContext) async throws -> Void
    }

    private(set) var entries: [String: Entry] = [:]

    public init() {}

    public var kinds: [String] { entries.keys.sorted() }

    /// Registers the handler for `Arguments.kind`; registering a kind twice replaces it.
    public mutating func register<Arguments: JobArguments>(
        _: Arguments.Type, options: JobKindOptions = JobKindOptions(),
        handler: @escaping @Sendable (Arguments, JobContext) async throws -> Void
    ) {
        entries[Arguments.kind] = Entry(options: options) { json, context in
            let arguments: Arguments
            do {
                arguments = try JobJSON.decoder.decode(Arguments.self, from: Data(json.utf8))
            } catch {
                throw JobDiscarded("arguments do not decode as \(Arguments.self): \(Self.describe(error))")
            }
            try await handler(arguments, context)
        }
    }

    func entry(for kind: String) -> Entry? { entries[kind] }

    private static func describe(_ error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        switch decoding {
        case .keyNotFound(let key, let context):
            return "missing field \"\(path(context.codingPath + [key]))\""
        case .typeMismatch(let type, let context):
            return "field \"\(path(context.codingPath))\" is not \(type)"
        case .valueNotFound(let type, let context):
            return "field \"\(path(context.codingPath))\" is null, expected \(type)"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            // The text is valid JSON (the database stored it as jsonb); what Foundation
            // cannot read is a number beyond what Swift's numbers hold.
            return "a number is out of range for Swift's numeric types (\(context.debugDescription))"
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
