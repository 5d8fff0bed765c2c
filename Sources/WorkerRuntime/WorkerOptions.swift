public import JobQueue
public import CommandLineInterface
import Foundation

/// The flags every worker executable shares.
public struct WorkerOptions: Sendable {
    public var configuration: WorkerConfiguration
    public var logLevel: JobLog.Level
    /// Serve Prometheus metrics on 127.0.0.1:PORT.
    public var metricsPort: Int?
    /// Address the metrics endpoint binds (loopback unless a container needs more).
    public var metricsHost: String

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
          --lease S            seconds a claim lasts without a heartbeat (default 15)
          --grace S            on SIGTERM/SIGINT, seconds running jobs get to finish (default 25)
          --batch N            most jobs claimed per round trip (default \(WorkerConfiguration.defaultClaimBatchSize))
          --prefetch N         most jobs per queue claimed ahead of free slots while jobs are
                               short (< 50 ms on average), waiting leased in this process
                               (default \(WorkerConfiguration.defaultPrefetch); 0: claim for free slots only)
          --worker-id ID       name in job rows and logs (default host-pid)
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
        .flag("--no-listen"), .value("--lease", "S", default: "15"), .value("--grace", "S", default: "25"),
        .value("--batch", "N", default: "\(WorkerConfiguration.defaultClaimBatchSize)"),
        .value("--prefetch", "N", default: "\(WorkerConfiguration.defaultPrefetch)"), .value("--worker-id", "ID"),
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
        let concurrency = try arguments.option("--concurrency", as: Int.self) ?? Self.defaultConcurrency
        guard concurrency >= 1 else { throw CommandError.usage("--concurrency must be at least 1", command: command) }
        var queues: [String: Int] = [:]
        let list = try arguments.option("--queues") ?? defaultQueues.map(Self.describe) ?? JobRequest.defaultQueue
        for item in list.split(separator: ",").map(UnicodeText.trimmed) where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 {
                guard let limit = Int(parts[1]), limit >= 1 else {
                    throw CommandError.usage("--queues: \"\(item)\" needs a whole number ≥ 1 after =", command: command)
                }
                queues[parts[0]] = limit
            } else {
                queues[parts[0]] = concurrency
            }
        }
        guard !queues.isEmpty else { throw CommandError.usage("--queues lists no queue", command: command) }
        let poll = try Self.seconds(&arguments, "--poll-interval", default: 1)
        let lease = try Self.seconds(&arguments, "--lease", default: 15)
        let grace = try Self.seconds(&arguments, "--grace", default: 25)
        let batch = try arguments.option("--batch", as: Int.self) ?? WorkerConfiguration.defaultClaimBatchSize
        guard batch >= 1 else { throw CommandError.usage("--batch must be at least 1", command: command) }
        let prefetch = try arguments.option("--prefetch", as: Int.self) ?? WorkerConfiguration.defaultPrefetch
        if prefetch < 0 {
            throw CommandError.usage("--prefetch must be 0 or more", command: command)
        }
        let listens = !arguments.flag("--no-listen")
        let level = try arguments.option("--log-level") ?? "info"
        guard let logLevel = JobLog.Level(rawValue: level) else {
            throw CommandError.usage("--log-level must be debug, info, warning or error", command: command)
        }
        self.logLevel = logLevel
        metricsHost = try arguments.option("--metrics-host") ?? "127.0.0.1"
        if let port = try arguments.option("--metrics-port", as: Int.self) {
            guard (1...65_535).contains(port) else {
                throw CommandError.usage("--metrics-port must be between 1 and 65535", command: command)
            }
            metricsPort = port
        }
        configuration = WorkerConfiguration(
            queues: queues, workerID: try arguments.option("--worker-id") ?? WorkerConfiguration.defaultWorkerID(),
            pollInterval: poll, listens: listens, leaseDuration: lease, shutdownGracePeriod: grace,
            claimBatchSize: batch, prefetch: prefetch)
    }

    private static func seconds(_ arguments: inout Arguments, _ name: String, default value: Double) throws -> Duration {
        let seconds = try arguments.option(name, as: Double.self) ?? value
        guard seconds > 0, seconds < 86_400 else {
            throw CommandError.usage("\(name) must be between 0 and 86400 seconds", command: arguments.commandName)
        }
        return .milliseconds(Int64(seconds * 1000))
    }
}
