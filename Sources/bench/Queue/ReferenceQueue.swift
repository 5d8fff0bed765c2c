import BenchSupport
import PostgresClient

/// The pgbench reference: the least SQL a SKIP LOCKED queue with the engine's state
/// model can do, on a minimal table in the same database. The table keeps the
/// columns a claim orders and filters by (queue, state, priority, run_at, id), an
/// attempt counter and a jsonb payload, and one partial index on available rows —
/// no leases, no history, no other index, no NOTIFY. A job goes available → running
/// (the claim: one statement, one commit) → completed (one statement, one commit),
/// and stays in the table, as the engine's jobs do.
enum ReferenceQueue {
    static let schema = """
        CREATE SCHEMA IF NOT EXISTS bench_reference;
        DROP TABLE IF EXISTS bench_reference.jobs;
        CREATE TABLE bench_reference.jobs (
            id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            queue    text        NOT NULL DEFAULT 'default',
            state    text        NOT NULL DEFAULT 'available',
            priority smallint    NOT NULL DEFAULT 0,
            run_at   timestamptz NOT NULL DEFAULT now(),
            attempt  integer     NOT NULL DEFAULT 0,
            args     jsonb       NOT NULL DEFAULT '{}'
        );
        CREATE INDEX bench_reference_available ON bench_reference.jobs (queue, priority, run_at, id)
            WHERE state = 'available';
        """

    /// pgbench script: claim up to :k jobs, then complete them — two transactions.
    static let claimAndComplete = """
        WITH next AS (
            SELECT id FROM bench_reference.jobs
            WHERE state = 'available' AND queue = 'default'
            ORDER BY priority, run_at, id
            LIMIT :k
            FOR UPDATE SKIP LOCKED
        ), claimed AS (
            UPDATE bench_reference.jobs AS j SET state = 'running', attempt = j.attempt + 1
            FROM next WHERE j.id = next.id
            RETURNING j.id
        )
        SELECT coalesce(array_agg(id), '{}') AS claimed FROM claimed
        \\gset
        UPDATE bench_reference.jobs SET state = 'completed' WHERE id = ANY (:claimed::bigint[]);
        """

    /// pgbench script: :batch jobs in one INSERT (one commit).
    static let insertBatch = """
        INSERT INTO bench_reference.jobs (args) SELECT '{}'::jsonb FROM generate_series(1, :batch);
        """

    static func install(on configuration: PostgresConfiguration) throws {
        try PostgresConnection.connect(configuration).executeScript(schema)
    }

    /// An empty table, then `count` available jobs (if any) and fresh statistics.
    static func reset(filling count: Int, on configuration: PostgresConfiguration) throws {
        let connection = try PostgresConnection.connect(configuration)
        try connection.executeScript("TRUNCATE bench_reference.jobs")
        guard count > 0 else { return }
        try connection.execute(
            "INSERT INTO bench_reference.jobs (args) SELECT '{}'::jsonb FROM generate_series(1, $1)", [Int64(count)])
        try connection.executeScript("ANALYZE bench_reference.jobs")
    }

    static func count(state: String, on configuration: PostgresConfiguration) throws -> Int {
        Int(
            try PostgresConnection.connect(configuration).query(
                "SELECT count(*) FROM bench_reference.jobs WHERE state = $1", [state]
            ).scalar(Int64.self))
    }

    static func total(on configuration: PostgresConfiguration) throws -> Int {
        Int(try PostgresConnection.connect(configuration).query("SELECT count(*) FROM bench_reference.jobs").scalar(Int64.self))
    }

    /// Jobs per second that `clients` pgbench clients claim and complete, `batch` per
    /// claim, over a backlog of `jobs`: jobs completed / pgbench's measured run time.
    /// Each client runs jobs / (clients × batch) transactions (rounded up); a claim at
    /// the very end may find fewer than `batch` unlocked jobs, so a few jobs can be left,
    /// and the rate counts the completed ones.
    static func processRate(
        pgbench: Pgbench, jobs: Int, clients: Int, batch: Int, on configuration: PostgresConfiguration
    ) async throws -> (rate: Double, completed: Int) {
        try reset(filling: jobs, on: configuration)
        let transactions = (jobs + clients * batch - 1) / (clients * batch)
        let run = try await pgbench.run(
            script: claimAndComplete, clients: clients, length: .transactionsPerClient(transactions),
            variables: ["k": String(batch)], conninfo: configuration.conninfo)
        let completed = try count(state: "completed", on: configuration)
        return (Double(completed) / run.elapsed.seconds, completed)
    }

    /// Jobs per second that `clients` pgbench clients insert, `batch` per statement.
    /// `sampler` measures what pgbench's run alone cost (`EnqueueCost`).
    static func enqueueRate(
        pgbench: Pgbench, jobs: Int, clients: Int, batch: Int, on configuration: PostgresConfiguration,
        sampler: ServerSampler
    ) async throws -> (rate: Double, cost: EnqueueCost) {
        try reset(filling: 0, on: configuration)
        let transactions = max(1, (jobs + clients * batch - 1) / (clients * batch))
        let before = try await sampler.take()
        let run = try await pgbench.run(
            script: insertBatch, clients: clients, length: .transactionsPerClient(transactions),
            variables: ["batch": String(batch)], conninfo: configuration.conninfo)
        let spent = before.until(try await sampler.take())
        let inserted = try total(on: configuration)
        return (
            Double(inserted) / run.elapsed.seconds,
            EnqueueCost(jobs: inserted, elapsed: run.elapsed, clientCPU: run.cpu, spent: spent)
        )
    }
}
