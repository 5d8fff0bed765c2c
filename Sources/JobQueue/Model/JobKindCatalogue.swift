/// The argument types of a set of job kinds, for checking a job given as kind
/// name and JSON text (an admin CLI, an import) before it is enqueued: the same
/// strict decoding and validation a worker's handler applies.
public struct JobKindCatalogue: Sendable {
    private var validators: [String: @Sendable (String) throws -> Void] = [:]

    public init() {}

    public init(_ types: [any JobArguments.Type]) {
        for type in types { add(type) }
    }

    public mutating func add<Arguments: JobArguments>(_: Arguments.Type) {
        validators[Arguments.kind] = { json in _ = try Arguments.decode(fromJSON: json) }
    }

    public var kinds: [String] { validators.keys.sorted() }

    public func contains(_ kind: String) -> Bool { validators[kind] != nil }

    /// Throws `JobQueueError.invalidJob` when the kind is unknown or its arguments
    /// would be refused by its handler.
    public func validate(_ request: JobRequest) throws(JobQueueError) {
        guard let validator = validators[request.kind] else {
            throw .invalidJob("unknown kind \"\(request.kind)\"; known kinds: \(kinds.joined(separator: ", "))")
        }
        do {
            try validator(request.argumentsJSON)
        } catch let error as JobArgumentsError {
            throw .invalidJob(error.reason)
        } catch {
            throw .invalidJob("\(request.kind): \(error)")
        }
    }
}
