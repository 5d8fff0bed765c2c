public import JobQueue
public import CommandLineInterface
public import PostgresClient
import Foundation

/// The flags every worker executable shares.
public struct WorkerOptions: Sendable {
    public var configuration: WorkerConfiguration
    public var logLevel: JobLog.Level
    /// Serve Prometheus metrics on 127.0.0.1:PORT.
    public var metricsPort: Int?
    /// Address the metrics endpoint binds (loopback unless a container needs more).
    public var metricsHost: String
    /// A direct connection for LISTEN alone, for workers whose database URL goes
    /// through a transaction-pooling PgBouncer (nil: LISTEN on the database URL,
    /// or poll when that is pooled).
    public var listenDatabase: PostgresConfiguration?

    /// The shared options' help; `defaultQueues` is what runs without `--queues`.
    public static func help(defaultQueues: [String: Int]? = nil) -> String {
        let queues = defaultQueues.map(describe) ?? JobRequest.defaultQueue
        return """
          --queues LIST        queues to work, with optional per-queue concurrency:
                               "default,mail=4" (default: \(queues))
          --concurrency N      jobs run at once per queue listed in --queues without its own =N
                               (default \(defaultConcurrency))
          --poll-interval S    seconds between polls of an idle queue (default 1)
          --no-listen          poll only; do not LISTEN for NOTIFY wake-ups
          --listen-url URL     direct PostgreSQL URL (no password) used only to LISTEN, for a worker
                               whose database URL goes through PgBouncer in transaction mode;
                               without it such a worker polls (default: $DATABASE_LISTEN_URL)
          --lease S            seconds a claim lasts without a heartbeat (default 15)
          --grace S            on SIGTERM/SIGINT, seconds running jobs get to finish (default 25)
          --batch N            most jobs claimed per round trip (default \(WorkerConfiguration.defaultClaimBatchSize))
          --prefetch N         most jobs per queue claimed ahead of free slots while jobs are
                               short (< 50 ms on average), waiting leased in this process
                               (default \(WorkerConfiguration.defaultPrefetch); 0: claim for free slots only)
          --worker-id NAME     name in job rows and logs (default host-pid)
          --metrics-port PORT  serve Prometheus metrics at http://HOST:PORT/metrics
          --metrics-host HOST  address to bind the metrics endpoint (default 127.0.0.1; 0.0.0.0 in a container)
          --log-level LEVEL    debug, info (default: one line per job outcome), warning or error
        """
    }

    /// Jobs at once per queue without its own `=N`.
    public static let defaultConcurrency = 10
    /// What a worker works without `--queues`.
    public static let defaultQueues = [JobRequest.defaultQueue: defaultConcurrency]

    /// `help`'s options, declared for `--describe-json`.
    public static let options: [CommandOption] = [
        .value("--queues", "LIST", default: JobRequest.defaultQueue),
        .value("--concurrency", "N", default: "\(defaultConcurrency)"), .value("--poll-interval", "S", default: "1"),
        .flag("--no-listen"), .value("--listen-url", "URL"), .value("--lease", "S", default: "15"), .value("--grace", "S", default: "25"),
        .value("--batch", "N", default: "\(WorkerConfiguration.defaultClaimBatchSize)"),
        .value("--prefetch", "N", default: "\(WorkerConfiguration.defaultPrefetch)"), .value("--worker-id", "NAME"),
        .value("--metrics-port", "PORT"), .value("--metrics-host", "HOST", default: "127.0.0.1"),
        .value("--log-level", "LEVEL", default: "info"),
    ]

    /// "default=4,reminders=8", sorted by name.
    public static func describe(_ queues: [String: Int]) -> String {
        queues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// `defaultQueues` (queue → concurrency) are worked when `--queues` is absent;
    /// nil: the default queue at `--concurrency`.
    public init(arguments: inout Arguments, defaultQueues: [String: Int]? = nil) throws {
        let command = arguments.commandName
        let concurrency = try arguments.integer("--concurrency", in: 1...Self.maximumConcurrency) ?? Self.defaultConcurrency
        var queues: [String: Int] = [:]
        let list = try arguments.option("--queues") ?? defaultQueues.map(Self.describe) ?? JobRequest.defaultQueue
        for item in list.split(separator: ",").map(UnicodeText.trimmed) where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard (1...100).contains(parts[0].count) else {
                throw CommandError.usage("--queues: \"\(item)\" needs a queue name of 1 to 100 characters", command: command)
            }
            if parts.count == 2 {
                queues[parts[0]] = try arguments.integer(
                    parts[1], named: "--queues \(parts[0])=", in: 1...Self.maximumConcurrency)
            } else {
                queues[parts[0]] = concurrency
            }
        }
        guard !queues.isEmpty else { throw CommandError.usage("--queues lists no queue", command: command) }
        let poll = try arguments.seconds("--poll-interval", in: Self.secondsRange) ?? .seconds(1)
        let lease = try arguments.seconds("--lease", in: Self.secondsRange) ?? .seconds(15)
        let grace = try arguments.seconds("--grace", in: Self.secondsRange) ?? .seconds(25)
        let batch = try arguments.integer("--batch", in: 1...10_000) ?? WorkerConfiguration.defaultClaimBatchSize
        let prefetch = try arguments.integer("--prefetch", in: 0...10_000) ?? WorkerConfiguration.defaultPrefetch
        let listens = !arguments.flag("--no-listen")
        let environment = ProcessInfo.processInfo.environment
        let listenURL = try DatabaseOptions.url(option: "--listen-url", arguments: &arguments)
            ?? environment["DATABASE_LISTEN_URL"].flatMap { $0.isEmpty ? nil : $0 }
        listenDatabase = listenURL.map { PostgresConfiguration(conninfo: $0, applicationName: arguments.programName) }
        if let listenDatabase, (try? listenDatabase.settings()) == nil {
            throw CommandError.failed(
                "DATABASE_LISTEN_URL is neither a postgresql:// URL nor key=value settings libpq accepts "
                    + "(not shown: it may contain a password); check its spelling and quoting")
        }
        let level = try arguments.option("--log-level") ?? "info"
        guard let logLevel = JobLog.Level(rawValue: level) else {
            throw CommandError.usage("--log-level must be debug, info, warning or error", command: command)
        }
        self.logLevel = logLevel
        metricsHost = try arguments.option("--metrics-host") ?? "127.0.0.1"
        metricsPort = try arguments.integer("--metrics-port", in: 1...65_535)
        configuration = WorkerConfiguration(
            queues: queues, workerID: try arguments.option("--worker-id") ?? WorkerConfiguration.defaultWorkerID(),
            pollInterval: poll, listens: listens, leaseDuration: lease, shutdownGracePeriod: grace,
            claimBatchSize: batch, prefetch: prefetch)
    }

    /// Poll interval, lease and grace: a millisecond (the clock's resolution here) to a day.
    static let secondsRange = 0.001...86_400.0
    /// Jobs run at once by one process per queue; far above what a connection pool can feed.
    static let maximumConcurrency = 10_000
}
