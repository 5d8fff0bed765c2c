import BenchSupport
import CommandLineInterface

/// The harness adapter contract's environment (see the harness README): where to
/// connect, how many jobs, the worker concurrency, the enqueue batch size and the
/// latency phase's sampling; and ours: whether completed jobs are kept.
struct AdapterParameters: Sendable {
    var databaseURL: String
    var jobs: Int
    var concurrency: Int
    var enqueueBatch: Int
    var latencySamples: Int
    var latencyInterval: Duration
    var latencyTimeout: Duration
    /// `QUEUE_BENCH_KEEP_COMPLETED=1` keeps completed jobs as rows (the engine's
    /// default); unset or 0, the queue deletes them at completion, as the harness's
    /// limit and PgQueuer do.
    var keepCompleted: Bool

    init(environment: [String: String]) throws {
        guard let url = environment["PGURL"], !url.isEmpty else {
            throw CommandError.failed("PGURL is not set; the harness passes the URL of a fresh database in it")
        }
        databaseURL = url
        jobs = try Self.integer("N", in: environment, default: nil, minimum: 1)
        concurrency = try Self.integer("CONCURRENCY", in: environment, default: nil, minimum: 1)
        enqueueBatch = try Self.integer("ENQUEUE_BATCH", in: environment, default: 1000, minimum: 1)
        latencySamples = try Self.integer("LAT_SAMPLES", in: environment, default: 100, minimum: 0)
        latencyInterval = .milliseconds(try Self.integer("LAT_INTERVAL_MS", in: environment, default: 50, minimum: 0))
        latencyTimeout = .seconds(try Self.integer("LAT_TIMEOUT_S", in: environment, default: 30, minimum: 1))
        switch environment["QUEUE_BENCH_KEEP_COMPLETED"] ?? "" {
        case "1": keepCompleted = true
        case "", "0": keepCompleted = false
        case let other:
            throw CommandError.failed("QUEUE_BENCH_KEEP_COMPLETED must be 1 (keep completed jobs) or 0, got \"\(other)\"")
        }
    }

    private static func integer(_ name: String, in environment: [String: String], default value: Int?, minimum: Int)
        throws -> Int
    {
        guard let text = environment[name], !text.isEmpty else {
            guard let value else { throw CommandError.failed("\(name) is not set") }
            return value
        }
        guard let number = Int(text), number >= minimum else {
            throw CommandError.failed("\(name) must be a whole number ≥ \(minimum), got \"\(text)\"")
        }
        return number
    }
}
