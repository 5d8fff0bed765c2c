import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// What to run, from the command line.
struct PlatformOptions: Sendable {
    var coupons: Int
    var notifications: Int
    var customers: Int
    var concurrency: Int
    var workers: Int
    var queueBatch: Int
    var noopJobs: Int
    /// Queue with the one-message API (a dispatch job per message) instead of the batch API.
    var oneByOne: Bool
    var connections: Int?
    var dispatchOrders: Int
    var dispatchCleaners: Int
    var recommendCustomers: Int
    var recommendCleaners: Int
    var small: Bool
    var database: DatabaseOptions
    var migrationsDirectory: URL

    /// The dispatch phase runs unless either of its sizes is 0.
    var runsDispatch: Bool { dispatchOrders > 0 && dispatchCleaners > 0 }

    static let defaultCoupons = 1_000_000
    static let defaultNotifications = 100_000
    static let smallCoupons = 20_000
    static let smallNotifications = 2_000
    static let defaultDispatchOrders = 10_000
    static let defaultDispatchCleaners = 5_000
    static let smallDispatchOrders = 200
    static let smallDispatchCleaners = 100
    static let defaultRecommendCustomers = 1_000_000
    static let defaultRecommendCleaners = 10_000
    static let smallRecommendCustomers = 20_000
    static let smallRecommendCleaners = 1_000

    static let help = """
          --coupons N          expired coupons to load and expire (default 1000000; 0 skips the phase)
          --notifications N    notifications to queue and dispatch (default 100000; 0 skips the phase)
          --dispatch-orders N  orders booked and dispatched in one city (default 10000; 0 skips the phase)
          --dispatch-cleaners N
                               cleaners of that city (default 5000; 0 skips the phase)
          --recommend-customers N
                               active customers given nightly cleaner recommendations
                               (default 1000000; 0 skips the phase)
          --recommend-cleaners N
                               cleaners they are recommended from, over 20 cities (default 10000)
          --customers N        customers loaded (default: the largest of coupons/10, notifications,
                               dispatch orders and recommend customers, so every notification
                               has its own phone number and every order its own customer)
          --concurrency N      jobs run at once per worker and queue (default 16, as in production)
          --workers N          JobWorkers of the notification and order dispatch phases, each with
                               its own pool (default 1)
          --connections N      database connections per worker (default: the worker's own default)
          --queue-batch N      notifications queued per transaction (default 1000)
          --noop-jobs N        no-op jobs the same workers process first, for the queue's own rate
                               (default: as many as notifications; 0 skips the step)
          --one-by-one         queue each notification with its own call (NotificationOutbox.queue(template:…),
                               a dispatch job per message: the path before batching) instead of the batch API
          --small              quick check: 20000 coupons, 2000 notifications, 200 orders across 100
                               cleaners, recommendations for 20000 customers from 1000 cleaners unless given
        \(MigrationsDirectory.help)
        \(DatabaseOptions.help)
        """

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        small = arguments.flag("--small")
        func count(_ name: String, default value: Int, minimum: Int) throws -> Int {
            try arguments.integer(name, in: minimum...100_000_000) ?? value
        }
        coupons = try count("--coupons", default: small ? Self.smallCoupons : Self.defaultCoupons, minimum: 0)
        notifications = try count(
            "--notifications", default: small ? Self.smallNotifications : Self.defaultNotifications, minimum: 0)
        dispatchOrders = try count(
            "--dispatch-orders", default: small ? Self.smallDispatchOrders : Self.defaultDispatchOrders, minimum: 0)
        dispatchCleaners = try count(
            "--dispatch-cleaners", default: small ? Self.smallDispatchCleaners : Self.defaultDispatchCleaners, minimum: 0)
        recommendCustomers = try count(
            "--recommend-customers", default: small ? Self.smallRecommendCustomers : Self.defaultRecommendCustomers,
            minimum: 0)
        recommendCleaners = try count(
            "--recommend-cleaners", default: small ? Self.smallRecommendCleaners : Self.defaultRecommendCleaners,
            minimum: 1)
        customers = try count(
            "--customers", default: max(coupons / 10, notifications, dispatchOrders, recommendCustomers, 1), minimum: 1)
        concurrency = try count("--concurrency", default: 16, minimum: 1)
        workers = try count("--workers", default: 1, minimum: 1)
        queueBatch = try count("--queue-batch", default: 1_000, minimum: 1)
        noopJobs = try count("--noop-jobs", default: notifications, minimum: 0)
        oneByOne = arguments.flag("--one-by-one")
        // At least 2: claims and handlers share them.
        connections = try arguments.integer("--connections", in: 2...1_000)
        guard dispatchCleaners <= 99_999_999, recommendCleaners <= 99_999_999 else {
            throw CommandError.usage("cleaners must be at most 99999999 (phone numbers have 8 digits for them)", command: command)
        }
        guard recommendCustomers <= customers else {
            throw CommandError.usage(
                "--recommend-customers \(recommendCustomers) needs at least as many --customers (got \(customers))",
                command: command)
        }
        guard customers <= 99_999_999 else {
            throw CommandError.usage("--customers must be at most 99999999 (phone numbers have 8 digits for it)", command: command)
        }
        migrationsDirectory = try MigrationsDirectory.resolve(&arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    /// The command line that repeats this run (the URL without any password).
    var reproduction: String {
        var words = ["swift build -c release --product bench &&", ".build/release/bench", "platform"]
        words += ["--coupons", "\(coupons)", "--notifications", "\(notifications)", "--customers", "\(customers)"]
        words += ["--dispatch-orders", "\(dispatchOrders)", "--dispatch-cleaners", "\(dispatchCleaners)"]
        words += ["--recommend-customers", "\(recommendCustomers)", "--recommend-cleaners", "\(recommendCleaners)"]
        words += ["--concurrency", "\(concurrency)", "--workers", "\(workers)", "--queue-batch", "\(queueBatch)"]
        words += ["--noop-jobs", "\(noopJobs)"]
        if oneByOne { words.append("--one-by-one") }
        if let connections { words += ["--connections", "\(connections)"] }
        let url = database.configuration.redactedConninfo
        if !url.isEmpty { words += ["--database-url", url] }
        return words.joined(separator: " ")
    }

    /// The workers of the no-op and the dispatch step: the same setup for both, so
    /// their rates compare.
    func dispatchWorkerConfiguration(name: String, index: Int) -> WorkerConfiguration {
        var configuration = WorkerConfiguration(
            queues: [NotificationOutbox.dispatchQueue: concurrency],
            workerID: "bench-platform-\(name)-\(ProcessInfo.processInfo.processIdentifier)-\(index + 1)",
            runsLeaderServices: false)
        if let connections { configuration.maxConnections = connections }
        return configuration
    }
}
