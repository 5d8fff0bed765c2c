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
/// `JobArguments` type, strictly and validated; a job whose arguments are refused
/// is discarded with the reason, never retried (no retry can fix its input).
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
            try await handler(try Arguments.decode(fromJSON: json), context)
        }
    }

    func entry(for kind: String) -> Entry? { entries[kind] }
}
