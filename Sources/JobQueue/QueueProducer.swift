import Foundation
import PostgresClient
import Synchronization

/// Works one queue in one process: claims as many jobs as it has free slots (in one
/// round trip), runs each in a child task, and sleeps until a NOTIFY, a freed slot
/// or the poll interval wakes it.
final class QueueProducer: Sendable {
    let queue: String
    let concurrency: Int
    let wake = WakeSignal()
    private let stopping = Mutex(false)
    private let inFlight = Mutex(0)
    private let environment: WorkerEnvironment

    init(queue: String, concurrency: Int, environment: WorkerEnvironment) {
        self.queue = queue
        self.concurrency = max(1, concurrency)
        self.environment = environment
    }

    /// Stop claiming; running jobs go on.
    func stopClaiming() {
        stopping.withLock { $0 = true }
        wake.signal()
    }

    private var isStopping: Bool { stopping.withLock { $0 } }

    /// Runs until `stopClaiming`, then until its jobs have finished or been released.
    func run() async {
        await withDiscardingTaskGroup { group in
            var failures = 0
            var settings = QueueSettings.unknown
            while !isStopping {
                if settings.isStale {
                    settings = (try? await QueueSettings.read(queue, on: environment.database)) ?? settings
                }
                let free = concurrency - inFlight.withLock { $0 }
                var claimedFull = false
                if free > 0 && !settings.paused {
                    let limit = min(free, environment.configuration.claimBatchSize)
                    do {
                        let claimStarted = ContinuousClock.now
                        let jobs = try await JobClaimer.claim(
                            queue: queue, limit: limit, workerID: environment.configuration.workerID,
                            lease: environment.configuration.leaseDuration,
                            withinQueueLimit: settings.hasConcurrencyLimit, on: environment.database)
                        failures = 0
                        environment.metrics.claimed(jobs: jobs.count, seconds: (ContinuousClock.now - claimStarted).seconds)
                        claimedFull = jobs.count == limit
                        inFlight.withLock { $0 += jobs.count }
                        for job in jobs {
                            let execution = JobExecution(
                                job: job, leaseDeadline: .now + environment.configuration.leaseDuration)
                            environment.running.add(execution)
                            group.addTask {
                                await self.execute(execution)
                                self.inFlight.withLock { $0 -= 1 }
                                self.wake.signal()
                            }
                        }
                    } catch {
                        failures += 1
                        environment.log.error(
                            "claiming failed; will retry", [("queue", queue), ("error", "\(error)")])
                        try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(failures, 6)), 5000)))
                        continue
                    }
                }
                if claimedFull && !isStopping { continue }
                await wake.wait(timeout: environment.configuration.pollInterval)
            }
            await waitForRunningJobs()
        }
    }

    /// Shutdown: wait for running jobs up to the grace period, then stop them; their
    /// outcome becomes "released" (back to the queue, attempt given back).
    private func waitForRunningJobs() async {
        let deadline = ContinuousClock.now + environment.configuration.shutdownGracePeriod
        while inFlight.withLock({ $0 }) > 0 && ContinuousClock.now < deadline {
            await wake.wait(timeout: .milliseconds(100))
        }
        for execution in environment.running.all where execution.job.queue == queue {
            execution.stop(.shutdown)
        }
    }

    /// Runs one attempt and hands its outcome to the acknowledger.
    private func execute(_ execution: JobExecution) async {
        let job = execution.job
        let log = environment.log
        let started = ContinuousClock.now
        defer { environment.running.remove(execution) }
        log.debug("job started", [
            ("job_id", "\(job.id)"), ("kind", job.kind), ("queue", job.queue), ("attempt", "\(job.attempt)"),
        ])
        guard let entry = environment.registry.entry(for: job.kind) else {
            let known = environment.registry.kinds.joined(separator: ", ")
            await finish(execution, .discarded(error: "unknown job kind \"\(job.kind)\"; this worker handles: \(known)"))
            return
        }
        if let deadline = job.deadline, deadline < Date() {
            await finish(execution, .discarded(error: "expired: not started by its deadline \(deadline)"))
            return
        }
        let completion = CompletionMarker()
        let context = JobContext(
            job: job, database: environment.database, workerID: environment.configuration.workerID, log: log,
            completion: completion)
        let handler = Task { try await entry.run(job.argumentsJSON, context) }
        execution.attach(handler)
        let timer: Task<Void, Never>? = entry.options.timeout.map { limit in
            Task {
                try? await Task.sleep(for: limit)
                if !Task.isCancelled { execution.stop(.timedOut(limit)) }
            }
        }
        let result = await handler.result
        execution.markFinished()
        timer?.cancel()
        let elapsed = ContinuousClock.now - started
        let fields = [
            ("job_id", "\(job.id)"), ("kind", job.kind), ("queue", job.queue), ("attempt", "\(job.attempt)"),
            ("duration_ms", "\(elapsed.milliseconds)"),
        ]

        switch (result, execution.stopReason) {
        case (.success, _) where completion.isCompleted:
            // Completed in the handler's own transaction, fenced: nothing left to write.
            log.info("job completed", fields)
            environment.metrics.jobFinished(kind: job.kind, outcome: "completed", seconds: elapsed.seconds)
        case (_, .leaseLost?):
            log.warning("job stopped: lease lost, its outcome is left to the attempt that owns it", fields)
        case (.success, _):
            log.info("job completed", fields)
            await finish(execution, .completed)
        case (.failure, .cancelRequested?):
            log.info("job cancelled on request", fields)
            await finish(execution, .cancelled(reason: "cancelled on request while running"))
        case (.failure, .shutdown?):
            log.info("job released at shutdown", fields)
            await finish(execution, .released)
        case (.failure(let error), .timedOut(let limit)?):
            await fail(execution, error: "timed out after \(limit) (\(error))", entry: entry, fields: fields)
        case (.failure(let error as JobCancelled), _):
            log.info("job cancelled by its handler", fields + [("reason", error.reason)])
            await finish(execution, .cancelled(reason: error.reason))
        case (.failure(let error as JobDiscarded), _):
            log.warning("job discarded", fields + [("error", error.reason)])
            await finish(execution, .discarded(error: error.reason))
        case (.failure(let error as JobSnoozed), _):
            log.info("job snoozed", fields + [("delay", "\(error.delay)")])
            await finish(execution, .snoozed(until: Date().addingTimeInterval(error.delay.seconds)))
        case (.failure(JobQueueError.leaseLost), _):
            log.warning("job's lease was lost before it could complete", fields)
        case (.failure(let error), _):
            await fail(execution, error: Self.describe(error), entry: entry, fields: fields)
        }
    }

    private func fail(
        _ execution: JobExecution, error: String, entry: JobHandlerRegistry.Entry, fields: [(String, String)]
    ) async {
        let job = execution.job
        if job.isLastAttempt {
            environment.log.warning("job failed on its last attempt; discarded", fields + [("error", error)])
            await finish(execution, .discarded(error: error))
        } else {
            let delay = entry.options.retryPolicy.delay(afterAttempt: job.attempt)
            environment.log.warning("job failed; will retry", fields + [("error", error), ("retry_in", "\(delay)")])
            await finish(execution, .retry(at: Date().addingTimeInterval(delay.seconds), error: error))
        }
    }

    private func finish(_ execution: JobExecution, _ result: JobOutcome.Result) async {
        let outcome = switch result {
        case .completed: "completed"
        case .retry: "retried"
        case .discarded: "discarded"
        case .cancelled: "cancelled"
        case .snoozed: "snoozed"
        case .released: "released"
        }
        environment.metrics.jobFinished(
            kind: execution.job.kind, outcome: outcome, seconds: (ContinuousClock.now - execution.claimedAt).seconds)
        await environment.acknowledger.submit(JobOutcome(lease: execution.job.lease, result: result))
    }

    private static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        return text.count > 2000 ? String(text.prefix(2000)) + "…" : text
    }
}

/// What the parts of one worker share.
struct WorkerEnvironment: Sendable {
    let configuration: WorkerConfiguration
    let database: PostgresPool
    let registry: JobHandlerRegistry
    let running: RunningJobs
    let acknowledger: JobAcknowledger
    let metrics: WorkerMetrics
    let log: JobLog
}
