import BenchSupport
import JobQueue
import Metrics
import PostgresClient

/// One variant of `bench bloat`, in its own scratch database: the queue schema
/// with the variant's table settings, one retention period of finished history when
/// the rate is fixed, then for `duration` a producer enqueuing no-op jobs, one worker
/// (in this process) running them with retention pruning as its leader service, and
/// a sampler reading the table's sizes and counters every `sampleInterval`.
struct SustainedLoad: Sendable {
    let options: BloatOptions
    let variant: BloatVariant

    struct Outcome: Sendable {
        var variant: BloatVariant
        /// `pg_class.reloptions` of the job table during the run.
        var tableOptions: String
        var history: Int
        var samples: [TableSample]
    }

    func run() async throws -> Outcome {
        try await ScratchDatabase.using(on: options.server) { scratch in
            Output.log("\(variant.rawValue): scratch database \(scratch.name)")
            return try await measure(in: scratch.configuration)
        }
    }

    private func measure(in database: PostgresConfiguration) async throws -> Outcome {
        try BenchSchema.install(on: database)
        let setup = try PostgresConnection.connect(database)
        try variant.apply(on: setup)
        if options.history > 0 {
            try BenchSchema.fillHistory(options.history, finishedOver: options.retention, on: database)
        }
        try BenchSchema.vacuum(on: database)
        let tableOptions = try JobTable.storageOptions(on: setup)

        let counter = CompletionCounter(target: Int.max)
        let retention = RetentionPolicy(
            completed: options.retention, cancelled: options.retention, discarded: options.retention)
        let worker = try BenchWorker.make(
            configuration: database, concurrency: options.concurrency, handlers: BenchJobs.counting(counter)
        ) { configuration in
            configuration.retention = retention
            configuration.retentionInterval = options.pruneInterval
        }
        try await BenchWorker.warmUp(worker)
        let producer = LoadProducer(configuration: database, rate: options.rate, backlog: options.backlog)
        try await producer.connect()
        let sampler = PostgresSession(configuration: database, name: "bloat-sampler")

        let start = ContinuousClock.now
        let end = start + options.duration
        let samples = try await BenchWorker.running(worker) {
            let producing = Task { try await producer.run(from: start, until: end, handled: counter) }
            do {
                let samples = try await sample(from: start, until: end, sampler: sampler) {
                    (counter.count, producer.enqueued, worker.claimLatency)
                }
                try await producing.value
                return samples
            } catch {
                producing.cancel()
                throw error
            }
        }
        await producer.disconnect()
        await sampler.disconnect()
        return Outcome(variant: variant, tableOptions: tableOptions, history: options.history, samples: samples)
    }

    /// Samples at `start`, every `sampleInterval` and at `end`; `counters` gives the
    /// jobs run, the jobs enqueued and the claim histogram at that moment.
    private func sample(
        from start: ContinuousClock.Instant, until end: ContinuousClock.Instant, sampler: PostgresSession,
        counters: () -> (Int, Int, PrometheusText.Histogram)
    ) async throws -> [TableSample] {
        var samples: [TableSample] = []
        var next = start
        while true {
            let elapsed = (ContinuousClock.now - start).seconds
            let (handled, enqueued, claims) = counters()
            let sample = try await sampler.withConnection { connection in
                try TableSample.read(on: connection, elapsed: elapsed, handled: handled, enqueued: enqueued, claims: claims)
            }
            log(sample, previous: samples.last)
            samples.append(sample)
            if next >= end { return samples }
            next = min(next + options.sampleInterval, end)
            try await Task.sleep(until: next, clock: .continuous)
        }
    }

    private func log(_ sample: TableSample, previous: TableSample?) {
        let rate = previous.map { Double(sample.handled - $0.handled) / (sample.elapsed - $0.elapsed) } ?? 0
        Output.log(
            "\(variant.rawValue) t=\(Format.decimal(sample.elapsed, places: 0)) s: \(Format.count(rate)) jobs/s, "
                + "backlog \(sample.outstanding), heap \(BloatReport.megabytes(sample.heapBytes)) MB, "
                + "indexes \(BloatReport.megabytes(sample.indexTotal)) MB, live \(sample.liveTuples), "
                + "dead \(sample.deadTuples), autovacuums \(sample.autovacuums)")
    }
}
