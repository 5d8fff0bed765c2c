import BenchSupport
import JobQueue
import PostgresClient

/// Enqueue-to-start latency on an idle worker: a worker with the given concurrency
/// waits (~1 s) on an empty queue; then `samples` single jobs are enqueued from
/// another connection, one every `interval`. A sample is the time from just before
/// the `enqueue` call to the start of the job's handler, both on this process's
/// monotonic clock, so it includes the enqueue's commit, the NOTIFY wake-up and the
/// claim.
struct LatencyProbe: Sendable {
    var configuration: PostgresConfiguration
    var concurrency: Int
    var samples: Int
    var interval: Duration
    var timeout: Duration

    struct Timings: Sendable {
        /// Enqueue call → handler start, in milliseconds, in sample order; samples whose
        /// job did not start within `timeout` after the last enqueue are missing.
        var toStart: [Double] = []
        /// How long each `enqueue` call itself took (its commit included), in ms.
        var enqueueCall: [Double] = []
    }

    func run() async throws -> Timings {
        guard samples > 0 else { return Timings() }
        let starts = StartTimes()
        var handlers = JobHandlerRegistry()
        handlers.register(ProbeJob.self) { arguments, _ in starts.record(arguments.sample, at: .now) }
        let worker = try BenchWorker.make(configuration: configuration, concurrency: concurrency, handlers: handlers)
        let producer = PostgresSession(configuration: configuration, name: "latency-producer")
        var enqueuedAt: [ContinuousClock.Instant] = []
        var result = Timings()
        try await BenchWorker.running(worker) {
            try await producer.withConnection { _ = try $0.query("SELECT 1") }
            try await Task.sleep(for: .seconds(1))
            let requests = try (0..<samples).map { try JobRequest(ProbeJob(sample: $0)) }
            let schedule = ContinuousClock.now
            for (sample, request) in requests.enumerated() {
                try await Task.sleep(until: schedule + interval * sample, clock: .continuous)
                let before = ContinuousClock.now
                enqueuedAt.append(before)
                _ = try await producer.withConnection { try $0.enqueue(request).id }
                result.enqueueCall.append((ContinuousClock.now - before).milliseconds)
            }
            let deadline = ContinuousClock.now + timeout
            while starts.count < samples && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        await producer.disconnect()
        result.toStart = enqueuedAt.indices.compactMap { sample in
            starts.start(of: sample).map { ($0 - enqueuedAt[sample]).milliseconds }
        }
        return result
    }
}
