public import Metrics
public import PostgresClient
import Synchronization

/// A worker process's engine: runs the registered handlers for its queues until
/// `shutdown()` or until the task running it is cancelled, with LISTEN/NOTIFY
/// wake-ups, polling, batched outcomes, lease heartbeats and the housekeeping
/// (staging due jobs, rescuing lapsed leases).
///
///     var handlers = JobHandlerRegistry()
///     handlers.register(SendReceipt.self) { arguments, context in … }
///     let worker = JobWorker(database: .fromEnvironment(), handlers: handlers)
///     try await worker.run()   // returns after shutdown() once jobs are done or released
///
/// or, for a worker that runs while some other work goes on (tests, benchmarks):
///
///     try await worker.running { … }   // shut down gracefully when the body returns
public final class JobWorker: Sendable {
    public let configuration: WorkerConfiguration
    private let environment: WorkerEnvironment
    private let producers: [String: QueueProducer]
    /// The connection the worker LISTENs on; nil: it polls only.
    private let listenConfiguration: PostgresConfiguration?
    private let listenerWakeup: PostgresWakeup
    private let shuttingDown = Mutex(false)
    private let periodicJobs: [PeriodicJob]

    /// `listenDatabase` is a direct connection used only for LISTEN, for a
    /// `database` that goes through a transaction-pooling PgBouncer (which cannot
    /// hold a LISTEN); without it such a worker polls every `pollInterval`.
    public init(
        database: PostgresConfiguration, listenDatabase: PostgresConfiguration? = nil, handlers: JobHandlerRegistry,
        periodicJobs: [PeriodicJob] = [], configuration: WorkerConfiguration = WorkerConfiguration(), log: JobLog = JobLog()
    ) throws {
        self.configuration = configuration
        self.periodicJobs = periodicJobs
        self.listenConfiguration = Self.listenConfiguration(
            listens: configuration.listens, database: database, listenDatabase: listenDatabase)
        var log = log
        log.fields.append(("worker", configuration.workerID))
        let pool = PostgresPool(configuration: database, maxConnections: configuration.maxConnections, name: "worker")
        let outage = DatabaseOutage(log: log)
        let environment = WorkerEnvironment(
            configuration: configuration, database: pool, registry: handlers, running: RunningJobs(),
            acknowledger: JobAcknowledger(database: pool, workerID: configuration.workerID, log: log, outage: outage),
            metrics: WorkerMetrics(), outage: outage, log: log)
        self.environment = environment
        self.producers = configuration.queues.reduce(into: [:]) { producers, queue in
            producers[queue.key] = QueueProducer(
                queue: queue.key, concurrency: queue.value,
                prefetch: configuration.prefetch, environment: environment)
        }
        self.listenerWakeup = try PostgresWakeup()
    }

    /// The given listen connection, else the database connection unless it is
    /// transaction-pooled; nil when the worker does not listen at all.
    private static func listenConfiguration(
        listens: Bool, database: PostgresConfiguration, listenDatabase: PostgresConfiguration?
    ) -> PostgresConfiguration? {
        guard listens else { return nil }
        if let listenDatabase { return listenDatabase }
        return database.pooling.allowsListen ? database : nil
    }

    /// Appended to the application name of the worker's LISTEN session, so
    /// `pg_stat_activity` tells it apart from the pool's sessions (`queue-worker listener`).
    public static let listenSessionNameSuffix = " listener"

    /// The pool the worker uses; handlers get it as `JobContext.database`.
    public var database: PostgresPool { environment.database }

    /// Prometheus text exposition of this worker's metrics (for `--metrics-port`).
    public func metricsText() async -> String {
        await environment.metrics.render(
            database: environment.database, running: environment.running.count,
            fencedWrites: await environment.acknowledger.fencedCount, outages: environment.outage.episodes)
    }

    /// Round-trip times of this worker's claim statements so far (what `/metrics`
    /// exposes as `queue_worker_claim_seconds`), for a benchmark to difference over
    /// its own intervals without scraping text.
    public var claimLatency: PrometheusText.Histogram { environment.metrics.claimLatency }

    /// Claim statements this worker ran on its LISTEN connection when a notification
    /// arrived (the rest ran on the pool), as `/metrics` counts them.
    public var listenerClaimCount: Int { environment.metrics.listenerClaims }

    /// Outcomes the database refused because the lease had moved on (fencing).
    public func fencedOutcomeCount() async -> Int { await environment.acknowledger.fencedCount }

    /// Times the database stopped answering this worker (each logged once, when it began).
    public var databaseOutageCount: Int { environment.outage.episodes }

    /// Stop claiming, let running jobs finish within the grace period, release the
    /// rest; `run()` then returns. Safe to call from any thread, more than once.
    public func shutdown() {
        stop(gracePeriod: configuration.shutdownGracePeriod, reason: "shutting down: no new claims; waiting for running jobs")
    }

    /// Shutdown with the given grace; a later, shorter grace still applies (a
    /// cancellation during a graceful shutdown stops at once).
    private func stop(gracePeriod: Duration, reason: String) {
        let first = shuttingDown.withLock { state in
            defer { state = true }
            return !state
        }
        if first || gracePeriod == .zero {
            environment.log.info(reason, [
                ("running", "\(environment.running.count)"), ("grace_s", "\(gracePeriod.components.seconds)"),
            ])
        }
        for producer in producers.values { producer.stopClaiming(gracePeriod: gracePeriod) }
    }

    /// Runs until `shutdown()`, then returns once running jobs finished or were
    /// released. Cancelling the calling task is an immediate shutdown: no new claims,
    /// running handlers are stopped and their jobs released, outcomes are written,
    /// then `run()` returns. (The engine's own tasks run in a task that does not
    /// inherit the cancellation, so every part winds down through the one shutdown
    /// path instead of each loop meeting a cancelled sleep.)
    public func run() async throws {
        let engine = Task { await self.runUntilStopped() }
        await withTaskCancellationHandler {
            await engine.value
        } onCancel: {
            self.stop(gracePeriod: .zero, reason: "cancelled: stopping now; running jobs are released")
        }
    }

    /// Runs the worker while `body` runs, then shuts it down gracefully and waits
    /// for it; returns what `body` returned, or rethrows what it threw (after the
    /// worker stopped). The scoped form of `run()` … `shutdown()`.
    public func running<T>(
        isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T
    ) async throws -> T {
        try await Self.running([self], body)
    }

    /// Runs several workers (e.g. one per simulated process) while `body` runs, then
    /// shuts them all down gracefully and waits for them. Cancelling the calling
    /// task cancels the workers too: they stop at once.
    public static func running<T>(
        _ workers: [JobWorker], isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T
    ) async throws -> T {
        let runs = workers.map { worker in Task { try await worker.run() } }
        return try await withTaskCancellationHandler {
            let result: Result<T, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            for worker in workers { worker.shutdown() }
            for run in runs { try await run.value }
            return try result.get()
        } onCancel: {
            for run in runs { run.cancel() }
        }
    }

    private func runUntilStopped() async {
        let environment = environment
        let log = environment.log
        log.info("worker started", [
            ("queues", configuration.queues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                .joined(separator: ",")),
            ("listen", "\(listenConfiguration != nil)"), ("kinds", environment.registry.kinds.joined(separator: ",")),
        ])
        if configuration.listens && listenConfiguration == nil {
            log.info(
                "polling only: the database connection goes through transaction pooling, which cannot hold a LISTEN; "
                    + "give the worker a direct connection for LISTEN (--listen-url) to be woken by NOTIFY",
                [("poll_interval_s", "\(configuration.pollInterval.seconds)")])
        }
        let workerRegistry = WorkerRegistry(
            database: environment.database, configuration: configuration, log: log, outage: environment.outage)
        await withTaskGroup(of: Void.self) { services in
            services.addTask { await environment.acknowledger.run() }
            services.addTask { await workerRegistry.run() }
            services.addTask {
                await LeaseKeeper(
                    database: environment.database, running: environment.running,
                    configuration: environment.configuration, log: log, outage: environment.outage
                ).run()
            }
            services.addTask { await self.maintain() }
            if configuration.runsLeaderServices {
                services.addTask { await self.lead() }
            }
            if let listenConfiguration {
                services.addTask {
                    await JobNotificationListener(
                        configuration: listenConfiguration, producers: self.producers, log: log,
                        outage: environment.outage, wakeup: self.listenerWakeup
                    ).run()
                }
            }
            await withDiscardingTaskGroup { queues in
                for producer in producers.values {
                    queues.addTask { await producer.run() }
                }
            }
            // Every producer has stopped and its jobs have finished or been released.
            await environment.acknowledger.drain(timeout: .seconds(10))
            services.cancelAll()
        }
        await workerRegistry.deregister()
        await environment.database.closeIdle()
        let fenced = await environment.acknowledger.fencedCount
        log.info("worker stopped", [("fenced_outcomes", "\(fenced)")])
    }

    /// While this process holds the leader lease: periodic jobs, workflow
    /// resolution and deadlines, priority aging, and retention (with the registry
    /// rows of dead worker processes).
    private func lead() async {
        let log = environment.log
        let database = environment.database
        let lease = LeaderLease(
            name: LeaderLease.maintenance, holder: configuration.workerID, duration: max(configuration.leaderInterval * 10, .seconds(2)))
        let scheduler = CronScheduler(jobs: periodicJobs, log: log)
        let clock = ContinuousClock()
        var leading = false
        var nextRetention = clock.now
        /// Whether jobs here can have dependencies and batches (not on Citus): asked once.
        var workflows: Bool?
        while !Task.isCancelled {
            do {
                let acquired = try await lease.tryAcquire(on: database)
                environment.outage.answered()
                if acquired != leading {
                    log.info(acquired ? "became leader" : "lost leadership", [("service", lease.name)])
                }
                leading = acquired
            } catch {
                if leading && !environment.outage.failed("leader lease renewal", error) {
                    log.error("leader lease renewal failed", [("error", "\(error)")])
                }
                leading = false
            }
            if leading {
                await runLogged("periodic jobs") { try await scheduler.tick(on: database) }
                await runLogged("workflow resolution") {
                    if workflows == nil { workflows = try await JobWorkflows.allowed(on: database) }
                    _ = try await WorkflowResolver.resolve(on: database, workflows: workflows ?? true)
                }
                await runLogged("priority aging") { _ = try await PriorityAging.run(on: database) }
                if clock.now >= nextRetention {
                    nextRetention = clock.now + configuration.retentionInterval
                    await runLogged("retention") {
                        let deleted = try await self.configuration.retention.prune(on: database)
                        if deleted > 0 { log.info("pruned finished jobs", [("deleted", "\(deleted)")]) }
                    }
                    await runLogged("worker registry pruning") {
                        let dead = try await WorkerRegistry.pruneDead(on: database)
                        if dead > 0 { log.info("removed dead workers from the registry", [("workers", "\(dead)")]) }
                    }
                }
            }
            try? await Task.sleep(for: configuration.leaderInterval)
        }
        if leading { await lease.resign(on: database) }
    }

    private func runLogged(_ service: String, _ body: () async throws -> Void) async {
        do {
            try await body()
        } catch {
            if !environment.outage.failed(service, error) {
                environment.log.error("\(service) failed", [("error", "\(error)")])
            }
        }
    }

    /// Stages due jobs and rescues lapsed leases on their own timers.
    private func maintain() async {
        let clock = ContinuousClock()
        var nextStage = clock.now
        var nextRescue = clock.now
        while !Task.isCancelled {
            if clock.now >= nextStage {
                nextStage = clock.now + configuration.stageInterval
                do {
                    let staged = try await JobMaintenance.stageDueJobs(on: environment.database)
                    environment.outage.answered()
                    if staged > 0 && listenConfiguration == nil {
                        for producer in producers.values { producer.requestClaim() }
                    }
                } catch {
                    if !environment.outage.failed("staging due jobs", error) {
                        environment.log.error("staging due jobs failed", [("error", "\(error)")])
                    }
                }
            }
            if clock.now >= nextRescue {
                nextRescue = clock.now + configuration.rescueInterval
                do {
                    for rescued in try await JobMaintenance.rescueLapsedLeases(on: environment.database) {
                        environment.log.warning(
                            "rescued a job whose lease lapsed", [("job_id", "\(rescued.id)"), ("state", rescued.state.rawValue)])
                    }
                } catch {
                    if !environment.outage.failed("rescuing lapsed leases", error) {
                        environment.log.error("rescuing lapsed leases failed", [("error", "\(error)")])
                    }
                }
            }
            try? await Task.sleep(until: min(nextStage, nextRescue), clock: clock)
        }
    }
}
