import CommandLineInterface
import JobQueue
import PostgresClient

/// Queues one job for a back-office command and prints its id.
enum QueuedJob {
    static func enqueue(_ request: JobRequest, format: OutputFormat, database: DatabaseOptions) async throws {
        let pool = PostgresPool(configuration: database.configuration, maxConnections: 1)
        let result = try await JobQueueClient(database: pool).enqueue(request)
        switch format {
        case .json:
            struct Output: Encodable { var id: Int64; var kind: String; var queue: String }
            print(try OutputFormat.json(Output(id: result.id, kind: request.kind, queue: request.queue)))
        case .table:
            print("job \(result.id) queued: \(request.kind) on queue \"\(request.queue)\"")
        }
    }
}
