public import PostgresClient

/// Enqueueing from async code over a pool. To enqueue inside your own transaction,
/// call `enqueue` on the transaction's connection instead
/// (`pool.withTransaction { connection in …; try connection.enqueue(job) }`).
public struct JobQueueClient: Sendable {
    public let database: PostgresPool

    public init(database: PostgresPool) {
        self.database = database
    }

    @discardableResult
    public func enqueue(_ request: JobRequest) async throws -> EnqueueResult {
        try await database.withConnection { try $0.enqueue(request) }
    }

    @discardableResult
    public func enqueue(_ requests: [JobRequest]) async throws -> [EnqueueResult] {
        try await database.withConnection { try $0.enqueue(requests) }
    }
}
