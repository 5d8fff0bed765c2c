import BenchSupport

/// What `bench queue scaling` measured, per number of worker processes.
struct ScalingResults: Sendable {
    struct Layout: Sendable {
        /// Drain: jobs/s, and CPU milliseconds per 1 000 jobs.
        var drainRate = Samples()
        var drainServerCPU = Samples()
        var drainWorkerCPU = Samples()
        /// KiB of WAL per 1 000 jobs (the whole server's, so a quiet server is assumed).
        var drainWAL = Samples()
        /// Mixed load: jobs completed per second of the producer's run, the
        /// enqueue-to-start wait in ms, and CPU milliseconds per 1 000 jobs.
        var mixedRate = Samples()
        var latencyP50 = Samples()
        var latencyP99 = Samples()
        var mixedServerCPU = Samples()
        var mixedWorkerCPU = Samples()
        var mixedWAL = Samples()
        /// Handler runs beyond one per job, over all runs of this layout.
        var reruns = 0
    }

    var layouts: [Int: Layout] = [:]
    var serverVersion = ""
    var databaseName = ""
    var wallSeconds = 0.0
    var loadBefore: Double?
    var loadAfter: Double?
    /// False when the server is not a local process: no server CPU figures.
    var serverCPUKnown = true
}
