import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import WorkerRuntime

/// `queue-worker`: the platform's worker process.
struct QueueWorkerCommand: WorkerCommand {
    static let name = "queue-worker"
    static let summary = "run the platform's job handlers"
    static let options: [CommandOption] = WorkerOptions.options + DatabaseOptions.options
    static let defaultQueues = PlatformJobs.queues
    static let kinds = PlatformJobs.kinds
    static let help = """
        queue-worker — runs the platform's background jobs from the PostgreSQL queue

        Usage: queue-worker [OPTIONS]

        Claims jobs from the given queues and runs their handlers until SIGTERM or
        SIGINT; then stops claiming, lets running jobs finish within --grace seconds,
        releases the rest back to the queue and exits 0. Also runs the platform's
        periodic jobs (tier recalculation, coupon and points expiry, coupon reminders,
        cleaner recommendations) when it leads. Without --queues it works every platform queue:
        \(WorkerOptions.describe(PlatformJobs.queues)).

        Options:
        \(WorkerOptions.help(defaultQueues: PlatformJobs.queues))
        \(DatabaseOptions.help)

        Environment:
          NOTIFY_PROVIDER      console (default: prints masked lines) or http
          NOTIFY_HTTP_URL      gateway URL for the http provider (JSON POST, Idempotency-Key header)
          NOTIFY_HTTP_TOKEN_FILE  file holding the gateway's bearer token (optional)
          NOTIFY_HTTP_TIMEOUT  seconds one gateway request may take, stopped time not counted
                               (default 5, at most 120)
          PAYOUT_PROVIDER      console (default: logs transfers, moves no money) or http
          PAYOUT_HTTP_URL      payout gateway URL for the http provider (JSON POST per transfer:
                               item_id, cleaner_id, amount_fen, currency CNY, idempotency_key;
                               also the Idempotency-Key header)
          PAYOUT_HTTP_TOKEN_FILE  file holding the payout gateway's bearer token (optional)
          PAYOUT_HTTP_TIMEOUT  seconds one transfer request may take (default 10, at most 120)
          BUSINESS_TIME_ZONE   time zone of business rules (default Asia/Shanghai)
        """

    let options: WorkerOptions
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        options = try WorkerOptions(arguments: &arguments, defaultQueues: PlatformJobs.queues)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let log = PlatformLog.make(minimumLevel: options.logLevel, fields: [("worker", options.configuration.workerID)])
        let services = try Self.services(log: log)
        do {
            try BusinessTimeZone.requireAgreement(of: services.timeZone, with: database.configuration)
        } catch let disagreement as BusinessTimeZone.Disagreement {
            throw CommandError.failed("\(disagreement)")
        } catch {
            // The database is not reachable (or not migrated) yet: the worker waits for it
            // as for any outage; the zones are compared at the next start.
            log.warning("business time zone not compared with the database's", [("error", "\(error)")])
        }
        let worker = try JobWorker(
            database: database.configuration, listenDatabase: options.listenDatabase, handlers: PlatformJobs.handlers(services),
            periodicJobs: try PlatformJobs.periodicJobs(timeZone: services.timeZone),
            configuration: options.configuration, log: PlatformLog.make(minimumLevel: options.logLevel))
        try await WorkerProcess.run(worker, metricsPort: options.metricsPort, metricsHost: options.metricsHost)
    }

    static func services(log: JobLog) throws -> PlatformServices {
        let environment = ProcessInfo.processInfo.environment
        let timeZone: TimeZone
        do {
            timeZone = try BusinessTimeZone.fromEnvironment(environment)
        } catch {
            throw CommandError.failed("\(error)")
        }
        let provider: any NotificationProvider = try chooseProvider(
            "NOTIFY", environment, console: { ConsoleNotificationProvider(log: log) },
            http: { HTTPNotificationProvider(endpoint: $0, timeout: $2 ?? .seconds(5), bearerToken: $1, log: log) })
        let payouts: any PayoutProvider = try chooseProvider(
            "PAYOUT", environment, console: { ConsolePayoutProvider(log: log) },
            http: { HTTPPayoutProvider(endpoint: $0, timeout: $2 ?? .seconds(10), bearerToken: $1, log: log) })
        return PlatformServices(provider: provider, payouts: payouts, timeZone: timeZone, log: log)
    }

    /// The provider `<PREFIX>_PROVIDER` names: `console` (the default) or `http`,
    /// whose gateway is `<PREFIX>_HTTP_URL`, its timeout `<PREFIX>_HTTP_TIMEOUT`
    /// seconds when set (nil: the provider's default), with, when set, the bearer token in the
    /// file `<PREFIX>_HTTP_TOKEN_FILE` names (a file, so the token is in neither
    /// argv nor the environment; an empty file means none, as the compose file
    /// mounts one whatever the provider).
    private static func chooseProvider<Provider>(
        _ prefix: String, _ environment: [String: String], console: () -> Provider,
        http: (_ endpoint: URL, _ bearerToken: String?, _ timeout: Duration?) -> Provider
    ) throws -> Provider {
        switch environment["\(prefix)_PROVIDER"] ?? "console" {
        case "console":
            return console()
        case "http":
            guard let text = environment["\(prefix)_HTTP_URL"], let url = URL(string: text), url.scheme != nil else {
                throw CommandError.failed("\(prefix)_PROVIDER=http needs \(prefix)_HTTP_URL, the gateway's URL")
            }
            let timeout = try environment["\(prefix)_HTTP_TIMEOUT"].map { try timeoutSeconds($0, "\(prefix)_HTTP_TIMEOUT") }
            guard let path = environment["\(prefix)_HTTP_TOKEN_FILE"] else { return http(url, nil, timeout) }
            let contents: String
            do {
                contents = try TextFile.read(path, what: "\(prefix)_HTTP_TOKEN_FILE")
            } catch {
                throw CommandError.failed("\(error)")
            }
            let token = UnicodeText.trimmed(contents)
            return http(url, token.isEmpty ? nil : token, timeout)
        case let other:
            throw CommandError.failed("\(prefix)_PROVIDER \"\(other)\" is unknown; use console or http")
        }
    }

    /// A gateway timeout in seconds: a finite number above 0 and at most 120.
    private static func timeoutSeconds(_ text: String, _ name: String) throws -> Duration {
        guard let seconds = Double(text), seconds.isFinite, seconds > 0, seconds <= 120 else {
            throw CommandError.failed("\(name) \"\(text)\" must be seconds above 0 and at most 120 (e.g. 5 or 2.5)")
        }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }
}
