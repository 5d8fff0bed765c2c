import BenchSupport
import Foundation
import JobQueue
import PostgresClient

/// Runs the suite's measurements in order (see `SuiteCommand.help`) in a scratch
/// database, interleaving each of our runs with the pgbench references at the same
/// concurrency, repetition after repetition.
struct Suite: Sendable {
    let options: SuiteOptions

    func run() async throws -> SuiteResults {
        let started = ContinuousClock.now
        var results = SuiteResults()
        results.loadBefore = LoadAverage.oneMinute()
        let pgbench = try await Pgbench.locate(explicit: options.pgbenchPath)
        results.pgbenchVersion = pgbench.version
        InterruptCleanup.shared.install()
        try await ScratchDatabase.using(on: options.server) { scratch in
            results.databaseName = scratch.name
            Output.log("scratch database \(scratch.name); \(pgbench.version)")
            let pool = PostgresPool(configuration: scratch.configuration, maxConnections: 1, name: "bench")
            let serverPID = await CPUSample.serverPID(pool: pool)
            await pool.closeIdle()
            let sampler = ServerSampler(
                serverPID: serverPID, watcher: try PostgresConnection.connect(scratch.administration),
                database: scratch.name)
            try await measure(in: scratch.configuration, pgbench: pgbench, sampler: sampler, into: &results)
        }
        results.wallSeconds = (ContinuousClock.now - started).seconds
        results.loadAfter = LoadAverage.oneMinute()
        return results
    }

    private func measure(
        in database: PostgresConfiguration, pgbench: Pgbench, sampler: ServerSampler, into results: inout SuiteResults
    ) async throws {
        try BenchSchema.install(on: database)
        try ReferenceQueue.install(on: database)
        try await BenchSchema.keepCompleted(!options.deleteCompleted, on: database)
        results.serverVersion = try BenchSchema.serverVersion(on: database)

        for repetition in 1...options.repetitions {
            Output.log("repetition \(repetition) of \(options.repetitions)")
            try await measureEnqueue(in: database, pgbench: pgbench, sampler: sampler, into: &results)
            var referenced = Set<Int>()
            for concurrency in options.concurrencies {
                let jobs = options.jobs(atConcurrency: concurrency)
                try BenchSchema.reset(on: database)
                try BenchSchema.fill(jobs, on: database)
                try BenchSchema.analyze(on: database)
                let run = try await ProcessingRun(configuration: database, concurrency: concurrency).run(target: jobs)
                try BenchSchema.requireCompleted(
                    jobs, keepCompleted: !options.deleteCompleted, on: database, what: "1 process × \(concurrency)")
                let rate = Double(jobs) / run.elapsed.seconds
                results.inProcess[concurrency, default: Samples()].append(rate)
                results.inProcessCPU[concurrency, default: Samples()].append(run.cpu.microseconds / Double(jobs))
                Output.log("1 process × \(concurrency): \(Format.count(rate)) jobs/s")
                try await measureReference(clients: concurrency, in: database, pgbench: pgbench, into: &results)
                referenced.insert(concurrency)
            }
            for fleet in options.fleets {
                try BenchSchema.reset(on: database)
                try BenchSchema.fill(options.jobs, on: database)
                try BenchSchema.analyze(on: database)
                let run = try await WorkerFleet(
                    configuration: database, processes: fleet.processes, concurrency: fleet.concurrency
                ).run()
                try BenchSchema.requireCompleted(
                    options.jobs, keepCompleted: !options.deleteCompleted, on: database,
                    what: "\(fleet.processes) processes × \(fleet.concurrency)")
                let rate = Double(options.jobs) / run.elapsed.seconds
                results.fleets[fleet, default: Samples()].append(rate)
                results.fleetCPU[fleet, default: Samples()].append(run.cpu.microseconds / Double(options.jobs))
                results.fleetPeakKiB[fleet, default: []].append(run.reports.map(\.peakKiB).max() ?? 0)
                results.fleetResidentKiB[fleet, default: []].append(run.reports.map(\.residentKiB).max() ?? 0)
                Output.log(
                    "\(fleet.processes) processes × \(fleet.concurrency): \(Format.count(rate)) jobs/s "
                        + "(jobs per process: \(run.reports.map(\.handled)))")
                if !referenced.contains(fleet.total) {
                    try await measureReference(clients: fleet.total, in: database, pgbench: pgbench, into: &results)
                    referenced.insert(fleet.total)
                }
            }
        }
        try await measureLatency(in: database, into: &results)
        try await measureBacklog(in: database, into: &results)
    }

    private func measureEnqueue(
        in database: PostgresConfiguration, pgbench: Pgbench, sampler: ServerSampler, into results: inout SuiteResults
    ) async throws {
        try BenchSchema.reset(on: database)
        let before = try await sampler.take()
        let run = try await BulkEnqueue(
            configuration: database, producers: options.producers, batchSize: options.enqueueBatch
        ).run(jobs: options.jobs)
        let spent = before.until(try await sampler.take())
        let counts = try BenchSchema.stateCounts(on: database)
        guard counts[.available] == options.jobs else {
            throw BenchFailure("bulk enqueue: expected \(options.jobs) available jobs, found \(counts)")
        }
        let rate = Double(options.jobs) / run.elapsed.seconds
        results.enqueue.append(rate)
        results.enqueueCosts[.ours, default: []].append(
            EnqueueCost(jobs: options.jobs, elapsed: run.elapsed, clientCPU: run.cpu, spent: spent))
        let reference = try await ReferenceQueue.enqueueRate(
            pgbench: pgbench, jobs: options.jobs, clients: options.producers, batch: options.enqueueBatch,
            on: database, sampler: sampler)
        results.referenceEnqueue.append(reference.rate)
        results.enqueueCosts[.minimalTable, default: []].append(reference.cost)
        let tableFloor = try await JobTableInsertFloor.rate(
            pgbench: pgbench, jobs: options.jobs, clients: options.producers, batch: options.enqueueBatch,
            on: database, sampler: sampler)
        results.tableFloorEnqueue.append(tableFloor.rate)
        results.enqueueCosts[.jobTable, default: []].append(tableFloor.cost)
        Output.log(
            "bulk enqueue: \(Format.count(rate)) jobs/s; pgbench INSERT batches: \(Format.count(reference.rate)) jobs/s; "
                + "pgbench INSERT batches into queue.jobs: \(Format.count(tableFloor.rate)) jobs/s")
    }

    private func measureReference(
        clients: Int, in database: PostgresConfiguration, pgbench: Pgbench, into results: inout SuiteResults
    ) async throws {
        for batch in [1, 10] {
            let jobs = options.referenceJobs(clients: clients, batch: batch)
            let (rate, completed) = try await ReferenceQueue.processRate(
                pgbench: pgbench, jobs: jobs, clients: clients, batch: batch, on: database)
            results.reference[.init(clients: clients, batch: batch), default: Samples()].append(rate)
            results.referenceShortfall += jobs - completed
            Output.log("pgbench k=\(batch), \(clients) clients: \(Format.count(rate)) jobs/s (\(completed)/\(jobs))")
        }
    }

    private func measureLatency(in database: PostgresConfiguration, into results: inout SuiteResults) async throws {
        guard options.latencySamples > 0 else { return }
        try BenchSchema.reset(on: database)
        let samples = try await LatencyProbe(
            configuration: database, concurrency: options.latencyConcurrency, samples: options.latencySamples,
            interval: options.latencyInterval, timeout: .seconds(30)
        ).run()
        results.latencies = samples.toStart
        results.enqueueCalls = samples.enqueueCall
        Output.log(
            "latency: p50 \(Format.decimal(Percentile.linear(results.latencies, 50) ?? .nan)) ms, "
                + "p99 \(Format.decimal(Percentile.linear(results.latencies, 99) ?? .nan)) ms")
    }

    /// The first `backlogMeasured` jobs of a backlog of exactly that many, against the
    /// first `backlogMeasured` of `backlogLarge` runnable jobs in the same queue. Each
    /// run starts from a vacuumed, analyzed table, so the dead rows of the previous
    /// run do not count against the next.
    private func measureBacklog(in database: PostgresConfiguration, into results: inout SuiteResults) async throws {
        let measured = options.backlogMeasured
        let worker = ProcessingRun(configuration: database, concurrency: options.backlogConcurrency)
        for _ in 1...options.repetitions {
            try BenchSchema.reset(on: database)
            try BenchSchema.fill(measured, on: database)
            try BenchSchema.vacuum(on: database)
            let rate = try await processFirst(measured, with: worker, in: database)
            results.backlogSmall.append(rate)
            Output.log("backlog \(measured): \(Format.count(rate)) jobs/s")
        }
        try BenchSchema.reset(on: database)
        let fillStart = ContinuousClock.now
        try BenchSchema.fill(options.backlogLarge, on: database)
        results.backlogFillSeconds = (ContinuousClock.now - fillStart).seconds
        Output.log("filled a backlog of \(options.backlogLarge) jobs in \(Format.decimal(results.backlogFillSeconds)) s")
        for _ in 1...options.repetitions {
            try BenchSchema.vacuum(on: database)
            let rate = try await processFirst(measured, with: worker, in: database)
            results.backlogLarge.append(rate)
            Output.log("first \(measured) of a backlog of ~\(options.backlogLarge): \(Format.count(rate)) jobs/s")
        }
    }

    /// Processes at least `count` jobs; returns completed jobs per second.
    private func processFirst(_ count: Int, with worker: ProcessingRun, in database: PostgresConfiguration)
        async throws -> Double
    {
        let before = try BenchSchema.unfinishedJobs(on: database)
        let run = try await worker.run(target: count)
        let completed = try before - BenchSchema.unfinishedJobs(on: database)
        guard completed == run.handled else {
            throw BenchFailure("backlog run: \(run.handled) handlers ran but \(completed) jobs are completed")
        }
        return Double(completed) / run.elapsed.seconds
    }
}
