import BenchSupport
import Foundation
import JobQueue
import PostgresClient

/// Runs `bench queue scaling` (see `ScalingCommand.help`) in a scratch database: for
/// each repetition and each process count, a drain run, then a mixed-load run.
struct Scaling: Sendable {
    let options: ScalingOptions

    /// How long the workers get, after the producer's last job, to finish the rest.
    static let drainTimeout = Duration.seconds(120)

    func run() async throws -> ScalingResults {
        let started = ContinuousClock.now
        var results = ScalingResults()
        results.loadBefore = LoadAverage.oneMinute()
        InterruptCleanup.shared.install()
        try await ScratchDatabase.using(on: options.server) { scratch in
            results.databaseName = scratch.name
            Output.log("scratch database \(scratch.name)")
            let database = scratch.configuration
            try BenchSchema.install(on: database)
            results.serverVersion = try BenchSchema.serverVersion(on: database)
            let pool = PostgresPool(configuration: database, maxConnections: 1, name: "bench")
            let serverPID = await CPUSample.serverPID(pool: pool)
            await pool.closeIdle()
            results.serverCPUKnown = serverPID != nil
            let watcher = try PostgresConnection.connect(scratch.administration)
            for repetition in 1...options.repetitions {
                Output.log("repetition \(repetition) of \(options.repetitions)")
                for processes in options.processes {
                    var layout = results.layouts[processes] ?? ScalingResults.Layout()
                    let sample = ServerSampler(serverPID: serverPID, watcher: watcher, database: scratch.name)
                    try await drain(processes: processes, in: database, sample: sample, into: &layout)
                    try await mixed(processes: processes, in: database, sample: sample, into: &layout)
                    results.layouts[processes] = layout
                }
            }
        }
        results.wallSeconds = (ContinuousClock.now - started).seconds
        results.loadAfter = LoadAverage.oneMinute()
        return results
    }

    private func fleet(_ processes: Int, _ database: PostgresConfiguration) -> WorkerFleet {
        WorkerFleet(configuration: database, processes: processes, concurrency: options.concurrency)
    }

    private func drain(
        processes: Int, in database: PostgresConfiguration, sample: ServerSampler, into layout: inout ScalingResults.Layout
    ) async throws {
        try BenchSchema.reset(on: database)
        try BenchSchema.fill(options.jobs, on: database)
        try BenchSchema.analyze(on: database)
        let before = try await sample.take()
        let run = try await fleet(processes, database).run()
        let spent = before.until(try await sample.take())
        layout.reruns += try Self.verifyCompleted(
            options.jobs, handled: run.reports.map(\.handled).reduce(0, +), in: database, what: "\(processes) processes, drain")
        let perThousand = 1000 / Double(options.jobs)
        let rate = Double(options.jobs) / run.elapsed.seconds
        layout.drainRate.append(rate)
        layout.drainWorkerCPU.append(run.cpu.seconds * 1000 * perThousand)
        if let server = spent.cpu.server { layout.drainServerCPU.append(server * 1000 * perThousand) }
        layout.drainWAL.append(Double(spent.walBytes) / 1024 * perThousand)
        Output.log("\(processes) × \(options.concurrency), drain: \(Format.count(rate)) jobs/s")
    }

    private func mixed(
        processes: Int, in database: PostgresConfiguration, sample: ServerSampler, into layout: inout ScalingResults.Layout
    ) async throws {
        try BenchSchema.reset(on: database)
        try BenchSchema.analyze(on: database)
        let producer = LoadProducer(configuration: database, rate: options.rate, backlog: 0)
        try await producer.connect()
        let duration = Duration.seconds(options.seconds)
        let before = try await sample.take()
        let run = try await fleet(processes, database).run {
            let start = ContinuousClock.now
            // The producer's fixed rate does not look at the workers' progress.
            try await producer.run(from: start, until: start + duration, handled: CompletionCounter(target: .max))
            try await Self.waitUntilCompleted(producer.enqueued, in: database)
        }
        await producer.disconnect()
        let spent = before.until(try await sample.take())
        let jobs = producer.enqueued
        let handled = run.reports.map(\.handled).reduce(0, +)
        layout.reruns += try Self.verifyCompleted(jobs, handled: handled, in: database, what: "\(processes) processes, mixed load")
        let latencies = run.reports.flatMap { $0.latenciesMicroseconds ?? [] }.map { Double($0) / 1000 }
        guard latencies.count == handled else {
            throw BenchFailure("mixed load: \(latencies.count) start times reported for \(handled) handler runs")
        }
        let perThousand = 1000 / Double(jobs)
        layout.mixedRate.append(Double(jobs) / duration.seconds)
        layout.latencyP50.append(Percentile.linear(latencies, 50) ?? .nan)
        layout.latencyP99.append(Percentile.linear(latencies, 99) ?? .nan)
        layout.mixedWorkerCPU.append(run.cpu.seconds * 1000 * perThousand)
        if let server = spent.cpu.server { layout.mixedServerCPU.append(server * 1000 * perThousand) }
        layout.mixedWAL.append(Double(spent.walBytes) / 1024 * perThousand)
        Output.log(
            "\(processes) × \(options.concurrency), mixed \(options.rate) jobs/s: \(jobs) jobs, start p50 "
                + "\(Format.decimal(Percentile.linear(latencies, 50) ?? .nan)) ms, p99 "
                + "\(Format.decimal(Percentile.linear(latencies, 99) ?? .nan)) ms")
    }

    /// Polls until `jobs` jobs are completed (the producer has stopped), so the workers
    /// are stopped only after the last one ran.
    private static func waitUntilCompleted(_ jobs: Int, in database: PostgresConfiguration) async throws {
        let deadline = ContinuousClock.now + drainTimeout
        let connection = try PostgresConnection.connect(database)
        while ContinuousClock.now < deadline {
            let counts = try JobCounts.byState(queue: JobRequest.defaultQueue, on: connection)
            if (counts[.completed]?.jobs ?? 0) >= jobs { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchFailure("mixed load: the workers did not complete \(jobs) jobs within \(drainTimeout)")
    }

    /// Every job completed and none left in another state, else the run fails. Returns
    /// the handler runs beyond one per job: a job whose lease lapsed (a worker starved of
    /// CPU for longer than the lease) is claimed and run again, and the late outcome of
    /// the first run is refused by fencing — at-least-once, as documented, so it is
    /// reported, not an error.
    private static func verifyCompleted(_ jobs: Int, handled: Int, in database: PostgresConfiguration, what: String)
        throws -> Int
    {
        try BenchSchema.requireCompleted(jobs, on: database, what: what)
        guard handled >= jobs else {
            throw BenchFailure("\(what): \(handled) handler runs for \(jobs) completed jobs")
        }
        if handled > jobs { Output.log("\(handled - jobs) handler runs beyond one per job (lapsed leases)") }
        return handled - jobs
    }
}
