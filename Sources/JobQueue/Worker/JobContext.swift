public import PostgresClient
import Synchronization

/// What a handler gets besides its arguments: the job, the database, and the one
/// way to make database effects exactly-once.
public struct JobContext: Sendable {
    public let job: ClaimedJob
    public let database: PostgresPool
    public let workerID: String
    public let log: JobLog
    let completion: CompletionMarker

    /// Runs `body` in a transaction that also completes this job, fenced by its
    /// lease. If the lease was lost meanwhile (the job was rescued and another attempt
    /// owns it), the whole transaction rolls back: the effects and the completion
    /// happen together or not at all — exactly once, even across crashes.
    @discardableResult
    public func completeInTransaction<T: Sendable>(
        isolation: PostgresConnection.IsolationLevel? = nil,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        let lease = job.lease
        completion.beginCompleting()
        do {
            let value = try await database.withTransaction(isolation: isolation) { connection in
                let value = try body(connection)
                let applied = try connection.query(JobAckStatements.completeOne, [lease.jobID, lease.leaseID, lease.queue])
                    .first?.decode(0, as: Int64.self) ?? 0
                if applied == 0 { throw JobQueueError.leaseLost(jobID: lease.jobID) }
                return value
            }
            completion.endCompleting(committed: true)
            return value
        } catch {
            completion.endCompleting(committed: false)
            throw error
        }
    }

    /// An idempotency key for calls to outside services, stable across retries of
    /// this job (e.g. an HTTP provider's Idempotency-Key header).
    public var idempotencyKey: String { "job-\(job.id)" }
}

/// Set once a handler completed its job inside its own transaction, so the runtime
/// does not acknowledge it a second time; and, while that transaction runs, tells the
/// heartbeat that a row no longer leased may be this attempt's own completion (its
/// commit comes before the marker is set), not a lost lease.
final class CompletionMarker: Sendable {
    private struct State {
        var inFlight = 0
        var completed = false
    }
    private let state = Mutex(State())

    /// Called before the completing transaction starts.
    func beginCompleting() { state.withLock { $0.inFlight += 1 } }
    /// Called once it committed or failed.
    func endCompleting(committed: Bool) {
        state.withLock { state in
            state.inFlight -= 1
            if committed { state.completed = true }
        }
    }
    var isCompleted: Bool { state.withLock { $0.completed } }
    /// A completion committed or may be committing right now.
    var mayHaveCompleted: Bool { state.withLock { $0.completed || $0.inFlight > 0 } }
}
