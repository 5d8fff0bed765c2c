import BenchSupport
import CommandLineInterface
import JobQueue
import PostgresClient

/// The measurements of `bench queue pooling` (see `PoolingCommand.help`).
struct PoolingBenchmark: Sendable {
    let direct: PostgresConfiguration
    let pooled: PostgresConfiguration
    let jobs: Int
    let enqueueJobs: Int
    let repetitions: Int
    let concurrency: Int
    let producers: Int

    struct Figures: Sendable {
        var processing = Samples()
        var processingCPU = Samples()
        var enqueue = Samples()
        var enqueueCPU = Samples()
    }

    struct Results: Sendable {
        var figures: [PoolingVariant: Figures] = [:]

        func report(jobs: Int, enqueueJobs: Int, concurrency: Int, producers: Int) -> String {
            var table = TextTable([
                "variant", "processing jobs/s", "vs direct", "CPU per job", "single enqueue jobs/s", "vs direct",
                "CPU per job",
            ])
            let base = figures[.directPrepared] ?? Figures()
            for variant in PoolingVariant.allCases {
                let figure = figures[variant] ?? Figures()
                table.append([
                    variant.title, Format.rate(figure.processing), Format.ratio(figure.processing, base.processing),
                    Self.microseconds(figure.processingCPU), Format.rate(figure.enqueue),
                    Format.ratio(figure.enqueue, base.enqueue), Self.microseconds(figure.enqueueCPU),
                ])
            }
            return """
                processing: \(jobs) no-op jobs, one worker in this process, concurrency \(concurrency); \
                enqueue: \(enqueueJobs) jobs one per transaction, \(producers) producers
                \(table.render())
                """
        }

        /// This process's CPU per job, median: "19.8 µs".
        private static func microseconds(_ samples: Samples) -> String {
            samples.median.map { Format.decimal($0, places: 1) + " µs" } ?? "–"
        }
    }

    func run() async throws -> Results {
        try BenchSchema.install(on: direct)
        var results = Results()
        for repetition in 1...repetitions {
            Output.log("repetition \(repetition) of \(repetitions)")
            for variant in PoolingVariant.allCases {
                let configuration = variant.configuration(direct: direct, pooled: pooled)
                var figures = results.figures[variant] ?? Figures()

                try BenchSchema.reset(on: direct)
                try BenchSchema.fill(jobs, on: direct)
                try BenchSchema.analyze(on: direct)
                let run = try await ProcessingRun(
                    configuration: configuration, concurrency: concurrency,
                    listenDatabase: variant == .pgbouncer ? direct : nil
                ).run(target: jobs)
                try expect(completed: jobs, what: "\(variant.title): processing")
                figures.processing.append(Double(jobs) / run.elapsed.seconds)
                figures.processingCPU.append(run.cpu.microseconds / Double(jobs))

                try BenchSchema.reset(on: direct)
                let enqueue = try await BulkEnqueue(configuration: configuration, producers: producers, batchSize: 1)
                    .run(jobs: enqueueJobs)
                let available = try BenchSchema.stateCounts(on: direct)[.available, default: 0]
                guard available == enqueueJobs else {
                    throw BenchFailure("\(variant.title): enqueued \(enqueueJobs) jobs, found \(available) available")
                }
                figures.enqueue.append(Double(enqueueJobs) / enqueue.elapsed.seconds)
                figures.enqueueCPU.append(enqueue.cpu.microseconds / Double(enqueueJobs))
                results.figures[variant] = figures
                Output.log(
                    "\(variant.title): processing \(Format.count(Double(jobs) / run.elapsed.seconds)) jobs/s, "
                        + "single enqueue \(Format.count(Double(enqueueJobs) / enqueue.elapsed.seconds)) jobs/s")
            }
        }
        return results
    }

    private func expect(completed jobs: Int, what: String) throws {
        let counts = try BenchSchema.stateCounts(on: direct)
        guard counts[.completed] == jobs, counts.values.reduce(0, +) == jobs else {
            throw BenchFailure("\(what): expected \(jobs) completed jobs, found \(counts)")
        }
    }
}
