import Foundation
import PostgresClient
import Synchronization

/// Works one queue in one process. Claims jobs in one round trip for its free slots
/// and, while the queue's jobs are short, up to `prefetch` more, which wait leased in
/// a local buffer (renewed by the heartbeat like running jobs, released at
/// shutdown). A slot that finishes a job starts the next buffered one at once,
/// without a round trip, so under load the claim of the next batch overlaps the run
/// of this one. Long jobs are claimed for free slots only: a job waiting behind them
/// here could have run at once in an idle process. The producer sleeps until the
/// buffer runs low, a NOTIFY, or the poll interval wakes it.
final class QueueProducer: Sendable {
    let queue: String
    let concurrency: Int
    let prefetch: Int
    let wake = WakeSignal()
    private let slots = Mutex(Slots())
    private let environment: WorkerEnvironment

    /// Jobs running and waiting in this producer, guarded together so a slot that
    /// frees up and the producer never both start the same buffered job.
    private struct Slots {
        var running = 0
        var buffered: [JobExecution] = []
        /// Index of the next buffered job (the array is compacted when it drains).
        var next = 0
        var stopping = false
        /// Moving average of recent jobs' run time; nil until one has finished.
        var averageSeconds: Double?

        var bufferedCount: Int { buffered.count - next }

        mutating func record(seconds: Double) {
            averageSeconds = averageSeconds.map { $0 * 0.8 + seconds * 0.2 } ?? seconds
        }

        mutating func takeBuffered() -> JobExecution? {
            guard !stopping, next < buffered.count else { return nil }
            defer {
                next += 1
                if next == buffered.count {
                    buffered.removeAll(keepingCapacity: true)
                    next = 0
                }
            }
            return buffered[next]
        }
    }

    /// Jobs averaging longer than this are not claimed ahead.
    static let shortJob = 0.05

    init(queue: String, concurrency: Int, prefetch: Int, environment: WorkerEnvironment) {
        self.queue = queue
        self.concurrency = max(1, concurrency)
        self.prefetch = max(0, prefetch)
        self.environment = environment
    }

    /// Stop claiming and starting buffered jobs; running jobs go on.
    func stopClaiming() {
        slots.withLock { $0.stopping = true }
        wake.signal()
    }

    private var isStopping: Bool { slots.withLock { $0.stopping } }

    /// Runs until `stopClaiming`, then until its jobs have finished or been released.
    func run() async {
        await withDiscardingTaskGroup { group in
            var failures = 0
            var settings = QueueSettings.unknown
            while !isStopping {
                if settings.isStale {
                    settings = (try? await QueueSettings.read(queue, on: environment.database)) ?? settings
                }
                // A queue limited across processes counts buffered jobs as running
                // (their rows are leased), so it claims for free slots only.
                let (running, buffered, ahead) = slots.withLock { slots in
                    (slots.running, slots.bufferedCount,
                     settings.hasConcurrencyLimit ? 0 : claimAhead(averageSeconds: slots.averageSeconds))
                }
                let room = concurrency + ahead - running - buffered
                let limit = min(room, environment.configuration.claimBatchSize)
                var claimedFull = false
                if limit > 0 && environment.acknowledger.isBehind {
                    try? await Task.sleep(for: .milliseconds(5))
                    continue
                }
                // Refill once the buffer is down to half of what it may hold.
                if limit > 0 && buffered <= ahead / 2 && !settings.paused {
                    do {
                        let claimStarted = ContinuousClock.now
                        let jobs = try await JobClaimer.claim(
                            queue: queue, limit: limit, workerID: environment.configuration.workerID,
                            lease: environment.configuration.leaseDuration,
                            withinQueueLimit: settings.hasConcurrencyLimit, on: environment.database)
                        failures = 0
                        environment.metrics.claimed(jobs: jobs.count, seconds: (ContinuousClock.now - claimStarted).seconds)
                        claimedFull = jobs.count == limit
                        let leaseDeadline = ContinuousClock.now + environment.configuration.leaseDuration
                        let executions = jobs.map { JobExecution(job: $0, leaseDeadline: leaseDeadline) }
                        for execution in executions { environment.running.add(execution) }
                        let starting = slots.withLock { slots -> [JobExecution] in
                            slots.buffered.append(contentsOf: executions)
                            var starting: [JobExecution] = []
                            while slots.running < concurrency, let execution = slots.takeBuffered() {
                                slots.running += 1
                                starting.append(execution)
                            }
                            return starting
                        }
                        for execution in starting {
                            group.addTask { await self.runSlot(startingWith: execution) }
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
            await releaseBuffered()
            await waitForRunningJobs()
        }
    }

    /// One slot: runs a job, then the next buffered one, until the buffer is empty.
    /// Wakes the producer when the buffer runs low and when the slot goes idle.
    private func runSlot(startingWith first: JobExecution) async {
        var execution = first
        while true {
            let started = ContinuousClock.now
            await execute(execution)
            let seconds = (ContinuousClock.now - started).seconds
            let (next, bufferLow) = slots.withLock { slots -> (JobExecution?, Bool) in
                slots.record(seconds: seconds)
                guard let next = slots.takeBuffered() else {
                    slots.running -= 1
                    return (nil, true)
                }
                return (next, slots.bufferedCount <= claimAhead(averageSeconds: slots.averageSeconds) / 2)
            }
            if bufferLow { wake.signal() }
            guard let next else { return }
            execution = next
        }
    }

    /// How many jobs to hold beyond the free slots: none until jobs are known to be short.
    private func claimAhead(averageSeconds: Double?) -> Int {
        guard let averageSeconds, averageSeconds < Self.shortJob else { return 0 }
        return prefetch
    }

    /// Shutdown: jobs claimed ahead that never started go straight back to the queue.
    private func releaseBuffered() async {
        let unstarted = slots.withLock { slots -> [JobExecution] in
            defer {
                slots.buffered.removeAll()
                slots.next = 0
            }
            return Array(slots.buffered[slots.next...])
        }
        for execution in unstarted {
            environment.running.remove(execution)
            await finish(execution, .released)
        }
    }

    /// Shutdown: wait for running jobs up to the grace period, then stop them; their
    /// outcome becomes "released" (back to the queue, attempt given back).
    private func waitForRunningJobs() async {
        let deadline = ContinuousClock.now + environment.configuration.shutdownGracePeriod
        while slots.withLock({ $0.running }) > 0 && ContinuousClock.now < deadline {
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
        switch execution.stopReason {
        case .leaseLost?:
            // Rescued while it waited in the buffer: the attempt belongs to someone else.
            log.warning("job not started: its lease was lost while it waited", [("job_id", "\(job.id)")])
            environment.metrics.fencedInRun()
            return
        case .cancelRequested?:
            await finish(execution, .cancelled(reason: "cancelled on request before it started"))
            return
        case .shutdown?, .timedOut?:
            await finish(execution, .released)
            return
        case nil:
            break
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
        let fields = {
            [
                ("job_id", "\(job.id)"), ("kind", job.kind), ("queue", job.queue), ("attempt", "\(job.attempt)"),
                ("duration_ms", "\(elapsed.milliseconds)"),
            ]
        }

        switch (result, execution.stopReason) {
        case (.success, _) where completion.isCompleted:
            // Completed in the handler's own transaction, fenced: nothing left to write.
            log.info("job completed", fields())
            environment.metrics.jobFinished(kind: job.kind, outcome: "completed", seconds: elapsed.seconds)
        case (_, .leaseLost?):
            log.warning("job stopped: lease lost, its outcome is left to the attempt that owns it", fields())
            environment.metrics.fencedInRun()
        case (.success, _):
            log.info("job completed", fields())
            await finish(execution, .completed)
        case (.failure, .cancelRequested?):
            log.info("job cancelled on request", fields())
            await finish(execution, .cancelled(reason: "cancelled on request while running"))
        case (.failure, .shutdown?):
            log.info("job released at shutdown", fields())
            await finish(execution, .released)
        case (.failure(let error), .timedOut(let limit)?):
            await fail(execution, error: "timed out after \(limit) (\(error))", entry: entry, fields: fields)
        case (.failure(let error as JobCancelled), _):
            log.info("job cancelled by its handler", fields() + [("reason", error.reason)])
            await finish(execution, .cancelled(reason: error.reason))
        case (.failure(let error as JobDiscarded), _):
            log.warning("job discarded", fields() + [("error", error.reason)])
            await finish(execution, .discarded(error: error.reason))
        case (.failure(let error as JobSnoozed), _):
            log.info("job snoozed", fields() + [("delay", "\(error.delay)")])
            await finish(execution, .snoozed(until: Date().addingTimeInterval(error.delay.seconds)))
        case (.failure(JobQueueError.leaseLost), _):
            log.warning("job's lease was lost before it could complete", fields())
            environment.metrics.fencedInRun()
        case (.failure(let error), _):
            await fail(execution, error: Self.describe(error), entry: entry, fields: fields)
        }
    }

    private func fail(
        _ execution: JobExecution, error: String, entry: JobHandlerRegistry.Entry,
        fields: () -> [(String, String)]
    ) async {
        let job = execution.job
        if job.isLastAttempt {
            environment.log.warning("job failed on its last attempt; discarded", fields() + [("error", error)])
            await finish(execution, .discarded(error: error))
        } else {
            let delay = entry.options.retryPolicy.delay(afterAttempt: job.attempt)
            environment.log.warning("job failed; will retry", fields() + [("error", error), ("retry_in", "\(delay)")])
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
