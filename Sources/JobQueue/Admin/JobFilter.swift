public import Foundation
import PostgresClient

/// Which jobs an operator means — the console's jobs page and its "all matching"
/// actions. Every field is optional; `argumentsContain` is a JSON object the job's
/// arguments must contain (jsonb `@>`, served by `jobs_args_idx`, which covers the
/// jobs that have arguments).
public struct JobFilter: Sendable, Equatable, Codable {
    public var state: JobState?
    public var queue: String?
    public var kind: String?
    public var tag: String?
    public var createdFrom: Date?
    public var createdBefore: Date?
    /// A JSON object, e.g. `{"order_id": 7}`; checked by PostgreSQL (22P02 when not JSON).
    public var argumentsContain: String?

    public init(
        state: JobState? = nil, queue: String? = nil, kind: String? = nil, tag: String? = nil,
        createdFrom: Date? = nil, createdBefore: Date? = nil, argumentsContain: String? = nil
    ) {
        self.state = state
        self.queue = queue
        self.kind = kind
        self.tag = tag
        self.createdFrom = createdFrom
        self.createdBefore = createdBefore
        self.argumentsContain = argumentsContain
    }

    /// The predicate on `queue.jobs` (aliased `j`), parameters $1…$7. Statements run
    /// unnamed, so each gets a plan for its values: an absent filter's `IS NULL`
    /// folds away and a present argument filter uses the GIN index, which covers only
    /// jobs with arguments (migration 0027): a non-empty object is contained only in a
    /// non-empty one, and saying so lets the planner use that partial index. An empty
    /// object filters nothing, as `@>` would.
    static let predicate = """
        ($1::text IS NULL OR j.state = $1) AND ($2::text IS NULL OR j.queue = $2)
        AND ($3::text IS NULL OR j.kind = $3) AND ($4::text IS NULL OR j.tags @> ARRAY[$4::text])
        AND ($5::timestamptz IS NULL OR j.created_at >= $5) AND ($6::timestamptz IS NULL OR j.created_at < $6)
        AND ($7::jsonb IS NULL OR $7::jsonb = '{}'::jsonb OR (j.args @> $7::jsonb AND j.args <> '{}'::jsonb))
        """

    var parameters: [any PostgresEncodable] {
        [state?.rawValue, queue, kind, tag, createdFrom, createdBefore, argumentsContain]
    }
}
