public import Foundation

/// A job to enqueue: kind, JSON arguments and scheduling options.
public struct JobRequest: Sendable {
    public var kind: String
    /// The arguments as JSON text.
    public var argumentsJSON: String
    public var queue: String
    /// Smaller runs first; 0 is the most urgent.
    public var priority: Int
    /// Not before this time; nil means now.
    public var runAt: Date?
    public var maxAttempts: Int
    public var tags: [String]
    /// At most one job per key among the jobs in `uniqueScope`'s states; enqueueing
    /// a duplicate returns the existing job instead of failing.
    public var uniqueKey: String?
    public var uniqueScope: UniqueScope
    /// Not started by then → discarded as expired.
    public var deadline: Date?
    /// Runs only after all these jobs completed; cancelled if one of them fails for good.
    public var dependsOn: [Int64]
    /// Groups jobs for a batch callback.
    public var batchID: String?
    /// Makes this job the callback of a batch: it runs once every job of the batch
    /// has finished, with `{"batch": {"completed": n, "discarded": n, "cancelled": n}}`
    /// merged into its arguments.
    public var callbackForBatch: String?

    public static let defaultQueue = "default"
    /// The arguments of a job that takes none: an empty JSON object (the column's default).
    public static let noArguments = "{}"
    public static let defaultMaxAttempts = 20

    public init(
        kind: String, argumentsJSON: String = JobRequest.noArguments, queue: String = JobRequest.defaultQueue,
        priority: Int = 0, runAt: Date? = nil, maxAttempts: Int = JobRequest.defaultMaxAttempts, tags: [String] = [],
        uniqueKey: String? = nil, uniqueScope: UniqueScope = .active, deadline: Date? = nil,
        dependsOn: [Int64] = [], batchID: String? = nil, callbackForBatch: String? = nil
    ) {
        self.kind = kind
        self.argumentsJSON = argumentsJSON
        self.queue = queue
        self.priority = priority
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.tags = tags
        self.uniqueKey = uniqueKey
        self.uniqueScope = uniqueScope
        self.deadline = deadline
        self.dependsOn = dependsOn
        self.batchID = batchID
        self.callbackForBatch = callbackForBatch
    }

    /// A job of `Arguments.kind` with typed arguments encoded as JSON; throws
    /// `JobQueueError.invalidJob` when `arguments.validate()` refuses them.
    public init<Arguments: JobArguments>(
        _ arguments: Arguments, queue: String = JobRequest.defaultQueue, priority: Int = 0, runAt: Date? = nil,
        maxAttempts: Int = JobRequest.defaultMaxAttempts, tags: [String] = [], uniqueKey: String? = nil,
        uniqueScope: UniqueScope = .active, deadline: Date? = nil, dependsOn: [Int64] = [], batchID: String? = nil,
        callbackForBatch: String? = nil
    ) throws {
        do {
            try arguments.validate()
        } catch {
            throw JobQueueError.invalidJob("\(Arguments.kind): \(error.reason)")
        }
        let data = try JobJSON.encoder.encode(arguments)
        self.init(
            kind: Arguments.kind, argumentsJSON: String(decoding: data, as: UTF8.self), queue: queue,
            priority: priority, runAt: runAt, maxAttempts: maxAttempts, tags: tags, uniqueKey: uniqueKey,
            uniqueScope: uniqueScope, deadline: deadline, dependsOn: dependsOn, batchID: batchID,
            callbackForBatch: callbackForBatch)
    }

    /// Checks what the database would reject, with a message a caller can act on.
    public func validateForEnqueue() throws {
        if UnicodeText.isBlank(kind) || kind.count > 200 {
            throw JobQueueError.invalidJob("kind must be 1 to 200 characters, not blank")
        }
        if UnicodeText.isBlank(queue) || queue.count > 100 {
            throw JobQueueError.invalidJob("queue must be 1 to 100 characters, not blank")
        }
        if let uniqueKey, UnicodeText.isBlank(uniqueKey) {
            throw JobQueueError.invalidJob("a unique key must not be blank")
        }
        if tags.contains(where: { UnicodeText.isBlank($0) }) { throw JobQueueError.invalidJob("a tag must not be blank") }
        if !(0...Int(Int16.max)).contains(priority) {
            throw JobQueueError.invalidJob("priority must be between 0 and \(Int16.max), got \(priority)")
        }
        if !(1...Int(Int32.max)).contains(maxAttempts) {
            throw JobQueueError.invalidJob("max attempts must be at least 1, got \(maxAttempts)")
        }
        if let uniqueKey, uniqueKey.isEmpty || uniqueKey.utf8.count > JobRequest.maxUniqueKeyBytes {
            throw JobQueueError.invalidJob(
                "unique key must be 1 to \(JobRequest.maxUniqueKeyBytes) bytes, got \(uniqueKey.utf8.count)")
        }
        if let tag = tags.first(where: { $0.isEmpty || $0.utf8.count > JobRequest.maxTagBytes }) {
            throw JobQueueError.invalidJob("a tag must be 1 to \(JobRequest.maxTagBytes) bytes, got \(tag.utf8.count)")
        }
        // No arguments (the empty object) is a valid, small, NUL-free object: a bulk
        // enqueue of argument-less jobs skips a JSON parse per job.
        if argumentsJSON != JobRequest.noArguments { try validateArguments() }
        if !dependsOn.isEmpty && callbackForBatch != nil {
            throw JobQueueError.invalidJob("a batch callback cannot also depend on jobs; put it in the batch's workflow")
        }
    }

    /// The arguments' part of `validateForEnqueue`: size, a JSON object, no NUL.
    private func validateArguments() throws {
        if argumentsJSON.utf8.count > JobRequest.maxArgumentsBytes {
            throw JobQueueError.invalidJob(
                "arguments are \(argumentsJSON.utf8.count) bytes; the limit is \(JobRequest.maxArgumentsBytes)")
        }
        var text = argumentsJSON
        let json = text.withUTF8 { Data(buffer: $0) }
        guard let parsed = try? JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed]) else {
            throw JobQueueError.invalidJob("arguments are not valid JSON: \(argumentsJSON.prefix(80))")
        }
        if !(parsed is [String: Any]) {
            throw JobQueueError.invalidJob("arguments must be a JSON object, not \(argumentsJSON.prefix(80))")
        }
        if argumentsContainNUL {
            throw JobQueueError.invalidJob("arguments contain a NUL character, which PostgreSQL cannot store in jsonb")
        }
    }

    /// Whether the arguments hold a NUL, raw or as the JSON escape `\u0000`. Searched in
    /// the UTF-8 bytes: Foundation's `String.contains` took a quarter of a bulk
    /// enqueue's client CPU (docs/performance-queue.md, "Bulk enqueue").
    private var argumentsContainNUL: Bool {
        var text = argumentsJSON
        return text.withUTF8 { bytes in
            let escape = Self.escapedNUL
            if bytes.contains(0) { return true }
            guard bytes.count >= escape.count else { return false }
            for start in 0...(bytes.count - escape.count) where bytes[start] == escape[0] {
                if bytes[start..<(start + escape.count)].elementsEqual(escape) { return true }
            }
            return false
        }
    }

    private static let escapedNUL = Array("\\u0000".utf8)

    /// Arguments larger than this are refused: job rows stay small and fast to claim.
    public static let maxArgumentsBytes = 256 * 1024
    /// Unique keys longer than this are refused: the unique index cannot hold an
    /// entry above ~2.7 kB, and the server's error would only come at insert time.
    public static let maxUniqueKeyBytes = 1000
    /// Tags are labels for filtering, not data.
    public static let maxTagBytes = 200
}

/// Which of a job's states hold its unique key.
///
/// There is deliberately no scope that leaves out `running`: a running job that
/// fails returns to waiting and must still own its key, or two jobs would hold it.
public enum UniqueScope: String, Sendable, Codable {
    /// Waiting or running (the default): one unfinished job per key at a time.
    case active
    /// Every state, until the row is pruned: e.g. once per cron tick or per period.
    case always
}

/// The JSON coders for job arguments: ISO 8601 dates, sorted keys (stable text).
enum JobJSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
