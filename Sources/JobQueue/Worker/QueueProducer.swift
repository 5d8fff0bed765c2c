import PostgresClient

/// Works one queue in one process: claims jobs in one round trip for the free slots
/// and the claim-ahead buffer of its `SlotScheduler`, starts them on slots, and has
/// the `AttemptExecutor` run them. Claimed-ahead attempts wait leased (renewed by the
/// heartbeat like running jobs, released at shutdown); a slot that finishes a job
/// starts the next buffered one without a round trip, so under load the claim of the
/// next batch overlaps the run of this one. The producer sleeps until the buffer runs
/// low, a NOTIFY, or the poll interval wakes it.
final class QueueProducer: Sendable {
    let queue: String
    let wake = WakeSignal()
    private let slots: SlotScheduler
    private let executor: AttemptExecutor
    private let environment: WorkerEnvironment

    init(queue: String, concurrency: Int, prefetch: Int, environment: WorkerEnvironment) {
        self.queue = queue
        self.slots = SlotScheduler(concurrency: concurrency, prefetch: prefetch)
        self.executor = AttemptExecutor(environment: environment)
        self.environment = environment
    }

    /// Stop claiming and starting buffered jobs; running jobs go on for `gracePeriod`.
    func stopClaiming(gracePeriod: Duration) {
        slots.stop(gracePeriod: gracePeriod)
        wake.signal()
    }

    /// Runs until `stopClaiming`, then until its jobs have finished or been released.
    func run() async {
        await withDiscardingTaskGroup { group in
            var failures = 0
            var settings = QueueSettings.unknown
            while !slots.isStopping {
                if settings.isStale {
                    settings = (try? await QueueSettings.read(queue, on: environment.database)) ?? settings
                }
                let (room, buffered, ahead) = slots.claimRoom(limitedAcrossProcesses: settings.hasConcurrencyLimit)
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
                        environment.outage.answered()
                        environment.metrics.claimed(jobs: jobs.count, seconds: (ContinuousClock.now - claimStarted).seconds)
                        claimedFull = jobs.count == limit
                        let leaseDeadline = ContinuousClock.now + environment.configuration.leaseDuration
                        let verdicts = try await EnqueuingTransaction.verdicts(for: jobs, on: environment.database)
                        var attempts: [LeasedAttempt] = []
                        for job in jobs {
                            let attempt = LeasedAttempt(job: job, leaseDeadline: leaseDeadline)
                            if let verdict = verdicts[job.id] {
                                logUnrun(attempt, verdict)
                                group.addTask { await self.executor.finish(attempt, verdict) }
                            } else {
                                attempts.append(attempt)
                            }
                        }
                        for attempt in attempts { environment.running.add(attempt) }
                        for attempt in slots.accept(attempts) {
                            group.addTask { await self.runSlot(startingWith: attempt) }
                        }
                    } catch {
                        failures += 1
                        if !environment.outage.failed("claiming", error) {
                            environment.log.error(
                                "claiming failed; will retry", [("queue", queue), ("error", "\(error)")])
                        }
                        try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(failures, 6)), 5000)))
                        continue
                    }
                }
                if claimedFull && !slots.isStopping { continue }
                await wake.wait(timeout: environment.configuration.pollInterval)
            }
            await releaseBuffered()
            await waitForRunningJobs()
        }
    }

    /// A claimed job that must not run now (`EnqueuingTransaction`); its outcome is
    /// written without running it.
    private func logUnrun(_ attempt: LeasedAttempt, _ verdict: JobOutcome.Result) {
        let fields = [("job_id", "\(attempt.job.id)"), ("kind", attempt.job.kind), ("queue", queue)]
        if case .discarded(let error) = verdict {
            environment.log.warning("job discarded unrun", fields + [("error", error)])
        } else {
            environment.log.info("job given back: the transaction that enqueued it has not committed yet", fields)
        }
    }

    /// One slot: runs a job, then the next buffered one, until the buffer is empty.
    /// Wakes the producer when the buffer runs low and when the slot goes idle.
    private func runSlot(startingWith first: LeasedAttempt) async {
        var attempt = first
        while true {
            let started = ContinuousClock.now
            await executor.execute(attempt)
            let (next, bufferLow) = slots.slotFinished(after: (ContinuousClock.now - started).seconds)
            if bufferLow { wake.signal() }
            guard let next else { return }
            attempt = next
        }
    }

    /// Shutdown: jobs claimed ahead that never started go straight back to the queue.
    private func releaseBuffered() async {
        for attempt in slots.takeUnstarted() {
            environment.running.remove(attempt)
            await executor.finish(attempt, .released)
        }
    }

    /// Shutdown: wait for running jobs up to the grace period, then stop them; their
    /// outcome becomes "released" (back to the queue, attempt given back).
    private func waitForRunningJobs() async {
        while slots.isWithinGrace {
            await wake.wait(timeout: .milliseconds(100))
        }
        for attempt in environment.running.all where attempt.job.queue == queue {
            attempt.stop(.shutdown)
        }
    }
}
