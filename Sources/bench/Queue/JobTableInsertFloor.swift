import BenchSupport
import JobQueue
import PostgresClient

/// The least a bulk insert into the engine's own job table can cost: pgbench inserting
/// rows of constants — what `BenchJobs.noop` enqueues, available at once — straight
/// into `queue.jobs`, with no client encoding, no statement around the insert and no
/// NOTIFY. Beside the minimal table's insert (`ReferenceQueue.insertBatch`) it shows
/// what the table itself costs — its CHECK constraints, its partial indexes, its wider
/// row — which no enqueue statement, however lean, can get under: the ceiling of
/// "ours / pgbench" for the bulk enqueue.
enum JobTableInsertFloor {
    /// pgbench script: :batch available no-op jobs in one INSERT (one commit); the
    /// other columns take their defaults, as the engine's enqueue gives them.
    static let insertBatch = """
        INSERT INTO queue.jobs (kind, queue, args, state, run_at)
        SELECT :kind, :queue, '{}'::jsonb, :state, now() FROM generate_series(1, :batch);
        """

    /// Jobs per second that `clients` pgbench clients insert this way, `batch` per
    /// statement, about `jobs` in all, into the emptied job table (left filled: the
    /// suite empties it before each next measurement), and what pgbench's run cost.
    static func rate(
        pgbench: Pgbench, jobs: Int, clients: Int, batch: Int, on configuration: PostgresConfiguration,
        sampler: ServerSampler
    ) async throws -> (rate: Double, cost: EnqueueCost) {
        try BenchSchema.reset(on: configuration)
        let transactions = max(1, (jobs + clients * batch - 1) / (clients * batch))
        let before = try await sampler.take()
        let run = try await pgbench.run(
            script: insertBatch, clients: clients, length: .transactionsPerClient(transactions),
            variables: [
                "batch": String(batch), "kind": NoopJob.kind, "queue": JobRequest.defaultQueue,
                "state": JobState.available.rawValue,
            ],
            conninfo: configuration.conninfo)
        let spent = before.until(try await sampler.take())
        let inserted = try BenchSchema.stateCounts(on: configuration)[.available] ?? 0
        guard inserted == transactions * clients * batch else {
            throw BenchFailure(
                "pgbench's insert into queue.jobs: expected \(transactions * clients * batch) available jobs, "
                    + "found \(inserted)")
        }
        return (
            Double(inserted) / run.elapsed.seconds,
            EnqueueCost(jobs: inserted, elapsed: run.elapsed, clientCPU: run.cpu, spent: spent)
        )
    }
}
