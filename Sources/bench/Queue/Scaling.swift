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
            for repetition in 1...options.repetitions {
                Output.log("repetition \(repetition) of \(options.repetitions)")
                for processes in options.processes {
                    var layout = results.layouts[processes] ?? ScalingResults.Layout()
                    try await drain(processes: processes, in: database, serverPID: serverPID, into: &layout)
                    try await mixed(processes: processes, in: database, serverPID: serverPID, into: &layout)
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
        processes: Int, in database: PostgresConfiguration, serverPID: Int32?, into layout: inout ScalingResults.Layout
    ) async throws {
        try BenchSchema.reset(on: database)
        try BenchSchema.fill(options.jobs, on: database)
        try BenchSchema.analyze(on: database)
        let before = CPUSample.take(serverPID: serverPID)
        let run = try await fleet(processes, database).run()
        let spent = before.until(CPUSample.take(serverPID: serverPID))
        try Self.verifyCompleted(options.jobs, handled: run.reports.map(\.handled).reduce(0, +), in: database)
        let perThousand = 1000 / Double(options.jobs)
        let rate = Double(options.jobs) / run.elapsed.seconds
        layout.drainRate.append(rate)
        layout.drainWorkerCPU.append(run.cpu.seconds * 1000 * perThousand)
        if let server = spent.server { layout.drainServerCPU.append(server * 1000 * perThousand) }
        Output.log("\(processes) × \(options.concurrency), drain: \(Format.count(rate)) jobs/s")
    }

    private func mixed(
        processes: Int, in database: PostgresConfiguration, serverPID: Int32?, into layout: inout ScalingResults.Layout
    ) async throws {
        try BenchSchema.reset(on: database)
        try BenchSchema.analyze(on: database)
        let producer = LoadProducer(configuration: database, rate: options.rate, backlog: 0)
        try await producer.connect()
        let duration = Duration.seconds(options.seconds)
        let before = CPUSample.take(serverPID: serverPID)
        let run = try await fleet(processes, database).run {
            let start = ContinuousClock.now
            // The producer's fixed rate does not look at the workers' progress.
            try await producer.run(from: start, until: start + duration, handled: CompletionCounter(target: .max))
            try await Self.waitUntilCompleted(producer.enqueued, in: database)
        }
        let spent = before.until(CPUSample.take(serverPID: serverPID))
        await producer.disconnect()
        let jobs = producer.enqueued
        try Self.verifyCompleted(jobs, handled: run.reports.map(\.handled).reduce(0, +), in: database)
        let latencies = run.reports.flatMap { $0.latenciesMicroseconds ?? [] }.map { Double($0) / 1000 }
        guard latencies.count == jobs else {
            throw BenchFailure("mixed load: \(latencies.count) start times reported for \(jobs) jobs")
        }
        let perThousand = 1000 / Double(jobs)
        layout.mixedRate.append(Double(jobs) / duration.seconds)
        layout.latencyP50.append(Percentile.linear(latencies, 50) ?? .nan)
        layout.latencyP99.append(Percentile.linear(latencies, 99) ?? .nan)
        layout.mixedWorkerCPU.append(run.cpu.seconds * 1000 * perThousand)
        if let server = spent.server { layout.mixedServerCPU.append(server * 1000 * perThousand) }
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

    /// Every job completed, none left in another state, and the processes ran each once.
    private static func verifyCompleted(_ jobs: Int, handled: Int, in database: PostgresConfiguration) throws {
        let counts = try BenchSchema.stateCounts(on: database)
        guard counts[.completed] == jobs, counts.values.reduce(0, +) == jobs, handled == jobs else {
            throw BenchFailure("expected \(jobs) jobs completed and run once, found \(counts), \(handled) handler runs")
        }
    }
}
