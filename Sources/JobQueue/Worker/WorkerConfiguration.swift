import Foundation

/// How a worker process runs. Defaults suit a handful of processes against one
/// server; every value is a flag of `queue-worker`.
public struct WorkerConfiguration: Sendable {
    /// Queues to work and how many jobs of each may run at once in this process.
    public var queues: [String: Int]
    /// Shown in job rows (`leased_by`) and log lines.
    public var workerID: String
    /// How often an idle queue is polled when no NOTIFY arrives (and the only
    /// trigger when `listens` is false).
    public var pollInterval: Duration
    /// Wake on LISTEN/NOTIFY; false means polling only.
    public var listens: Bool
    /// How long a claim stays valid without a heartbeat. A killed worker's jobs are
    /// rescued this long after its last heartbeat (plus up to `rescueInterval`).
    public var leaseDuration: Duration
    public var heartbeatInterval: Duration
    public var rescueInterval: Duration
    /// How often due scheduled and retryable jobs are made available.
    public var stageInterval: Duration
    /// On shutdown, how long running jobs may take to finish before they are
    /// cancelled and released back to the queue.
    public var shutdownGracePeriod: Duration
    /// Most jobs claimed per round trip.
    public var claimBatchSize: Int
    /// Most jobs a queue claims ahead of its free slots, per process, while its
    /// jobs are short (under 50 ms on average): they wait leased in the worker, so a
    /// slot that frees up starts the next job without a round trip and claims
    /// overlap running jobs. Longer jobs are claimed for free slots only (another
    /// idle process could run them at once), and so are jobs of queues with a
    /// concurrency limit across processes. 0 turns claiming ahead off.
    public var prefetch: Int
    /// Database connections this worker opens (claims, outcomes, heartbeats,
    /// maintenance, and handlers that use `JobContext.database`).
    public var maxConnections: Int
    /// Take part in the leader election for the singleton services (periodic jobs,
    /// workflows, deadlines, priority aging, retention).
    public var runsLeaderServices: Bool
    /// How often the leader runs its services (and renews its lease).
    public var leaderInterval: Duration
    public var retention: RetentionPolicy
    public var retentionInterval: Duration

    public init(
        queues: [String: Int] = [JobRequest.defaultQueue: 10], workerID: String = WorkerConfiguration.defaultWorkerID(),
        pollInterval: Duration = .seconds(1), listens: Bool = true, leaseDuration: Duration = .seconds(15),
        heartbeatInterval: Duration? = nil, rescueInterval: Duration = .seconds(2), stageInterval: Duration = .seconds(1),
        shutdownGracePeriod: Duration = .seconds(25), claimBatchSize: Int = defaultClaimBatchSize, prefetch: Int = defaultPrefetch, maxConnections: Int? = nil,
        runsLeaderServices: Bool = true, leaderInterval: Duration = .seconds(1),
        retention: RetentionPolicy = RetentionPolicy(), retentionInterval: Duration = .seconds(60)
    ) {
        self.queues = queues
        self.workerID = workerID
        self.pollInterval = pollInterval
        self.listens = listens
        self.leaseDuration = leaseDuration
        self.heartbeatInterval = heartbeatInterval ?? leaseDuration / 3
        self.rescueInterval = rescueInterval
        self.stageInterval = stageInterval
        self.shutdownGracePeriod = shutdownGracePeriod
        self.claimBatchSize = max(1, claimBatchSize)
        self.prefetch = max(0, prefetch)
        self.maxConnections = maxConnections ?? min(4 + queues.count + queues.values.reduce(0, +) / 4, 32)
        self.runsLeaderServices = runsLeaderServices
        self.leaderInterval = leaderInterval
        self.retention = retention
        self.retentionInterval = retentionInterval
    }

    /// The defaults of `claimBatchSize` and `prefetch`, also those of the `--batch`
    /// and `--prefetch` flags.
    public static let defaultClaimBatchSize = 40
    public static let defaultPrefetch = 32

    /// host-pid, unique per process on a host.
    public static func defaultWorkerID() -> String {
        "\(ProcessInfo.processInfo.hostName.prefix(40))-\(ProcessInfo.processInfo.processIdentifier)"
    }
}
