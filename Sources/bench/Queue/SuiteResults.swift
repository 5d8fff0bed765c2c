import BenchSupport
/// Everything one suite run measured.
struct SuiteResults: Sendable {
    /// pgbench's reference for `clients` connections and `batch` jobs per claim.
    struct ReferenceKey: Sendable, Hashable {
        var clients: Int
        var batch: Int
    }

    var serverVersion = ""
    var pgbenchVersion = ""
    var databaseName = ""
    var enqueue = Samples()
    /// Client CPU time per job, µs: of the in-process runs, of the worker processes
    /// (the enqueue's is in `enqueueCosts`).
    var inProcessCPU: [Int: Samples] = [:]
    var fleetCPU: [SuiteOptions.Fleet: Samples] = [:]
    var referenceEnqueue = Samples()
    /// pgbench inserting the same batches of constant rows into the engine's own job
    /// table (`JobTableInsertFloor`): the most any enqueue statement could reach.
    var tableFloorEnqueue = Samples()
    /// The three bulk inserts measured side by side.
    enum EnqueueSubject: Sendable, Hashable, CaseIterable {
        /// `enqueue([JobRequest])`.
        case ours
        /// pgbench, `ReferenceQueue.insertBatch`.
        case minimalTable
        /// pgbench, `JobTableInsertFloor.insertBatch`.
        case jobTable
    }
    /// What each bulk insert spent per 1 000 jobs (server and client CPU, WAL, wall).
    var enqueueCosts: [EnqueueSubject: [EnqueueCost]] = [:]
    /// Processing rate of one in-process worker, by concurrency.
    var inProcess: [Int: Samples] = [:]
    /// Processing rate of worker processes, by layout.
    var fleets: [SuiteOptions.Fleet: Samples] = [:]
    /// Peak resident memory (VmHWM, KiB) of the largest worker process of a layout, per run.
    var fleetPeakKiB: [SuiteOptions.Fleet: [Int]] = [:]
    var fleetResidentKiB: [SuiteOptions.Fleet: [Int]] = [:]
    var reference: [ReferenceKey: Samples] = [:]
    /// Jobs the pgbench reference left undone across all its runs (a claim at the very
    /// end can find fewer unlocked jobs than its batch).
    var referenceShortfall = 0
    var latencies: [Double] = []
    /// Duration of each latency probe's enqueue call (commit included), ms.
    var enqueueCalls: [Double] = []
    var backlogSmall = Samples()
    var backlogLarge = Samples()
    var backlogFillSeconds = 0.0
    var wallSeconds = 0.0
    var loadBefore: Double?
    var loadAfter: Double?
}
