import PostgresClient
import Synchronization

/// Works one queue in one process: claims jobs in one round trip for the free slots
/// and the claim-ahead buffer of its `SlotScheduler`, hands them to its slots (one
/// task per slot for the producer's whole run, parked while idle), and has the
/// `AttemptExecutor` run them. Claimed-ahead attempts wait leased (renewed by the
/// heartbeat like running jobs, released at shutdown); a slot that finishes a job
/// starts the next buffered one without a round trip, so under load the claim of the
/// next batch overlaps the run of this one. The producer sleeps until the buffer runs
/// low, a NOTIFY, or the poll interval wakes it.
///
/// A NOTIFY for an idle queue is claimed on the listener's own connection and thread
/// (`claimAnnounced`), which are awake already, instead of waking this producer to
/// claim through a pooled connection whose thread and backend sleep: each wake-up of
/// a sleeping thread is a large part of the start latency on an idle machine. The
/// listener reserves the free slots in the `SlotScheduler` first, so its claims and
/// the producer's never hold more than the slots and buffer allow, and hands the jobs
/// straight to parked slots (`admit`): listener thread → slot → handler, one wake-up.
/// Only jobs whose enqueuing transaction must be checked first (`EnqueuingTransaction`,
/// Citus) go through the producer, which starts them like its own (`start`).
final class QueueProducer: Sendable {
    let queue: String
    private let wake = WakeSignal()
    private let slots: SlotScheduler
    private let executor: AttemptExecutor
    private let environment: WorkerEnvironment
    private let shared = Mutex(Shared())

    /// What the listener's thread and the producer's loop share.
    private struct Shared {
        /// The queue's settings as last read by the producer (the listener claims only
        /// while they are fresh: no cross-process limit, not paused). The producer
        /// re-reads them when it wakes once they are half their age limit old; the
        /// listener wakes it for that after a claim.
        var settings = QueueSettings.unknown
        /// Jobs the listener claimed whose enqueuing transactions the producer must
        /// check before it starts them.
        var handovers: [Handover] = []
        /// Someone asked for a claim (work announced, a slot freed, shutdown) rather
        /// than only handing jobs over.
        var claimWanted = false
    }

    /// One claim made on the listener's connection.
    private struct Handover {
        var jobs: [ClaimedJob]
        var reservation: Int
        var leaseDeadline: ContinuousClock.Instant
    }

    init(queue: String, concurrency: Int, prefetch: Int, environment: WorkerEnvironment) {
        self.queue = queue
        self.slots = SlotScheduler(concurrency: concurrency, prefetch: prefetch)
        self.executor = AttemptExecutor(environment: environment)
        self.environment = environment
    }

    /// Wakes the producer to claim: work was announced, or may have been missed.
    func requestClaim() {
        shared.withLock { $0.claimWanted = true }
        wake.signal()
    }

    /// Stop claiming and starting buffered jobs; running jobs go on for `gracePeriod`.
    func stopClaiming(gracePeriod: Duration) {
        slots.stop(gracePeriod: gracePeriod)
        requestClaim()
    }

    /// A NOTIFY named this queue; runs on the listener's thread with its connection.
    /// Claims for the idle slots there when that is safe (settings read within the last
    /// second, no limit across processes, not paused, outcomes not backing up, not
    /// stopping) and hands the jobs to the producer; otherwise, or when the claim
    /// filled every reserved slot (more may wait), asks the producer to claim. A failed
    /// claim gives its reservation back, asks the producer to claim, and rethrows.
    func claimAnnounced(on connection: PostgresConnection) throws {
        let settings = shared.withLock { $0.settings }
        let configuration = environment.configuration
        guard !settings.isStale, !settings.hasConcurrencyLimit, !settings.paused,
            !environment.acknowledger.isBehind
        else { return requestClaim() }
        let reservation = slots.reserveFreeSlots(batch: configuration.claimBatchSize)
        guard reservation > 0 else { return requestClaim() }
        let jobs: [ClaimedJob]
        // The server counts the lease from its statement's start; counting here from
        // before the claim was sent keeps the local deadline no later than the server's,
        // however long the answer took to arrive (a lock wait, a stopped process).
        let claimStarted = ContinuousClock.now
        do {
            jobs = try JobClaimer.claim(
                queue: queue, limit: reservation, workerID: configuration.workerID,
                lease: configuration.leaseDuration, on: connection)
            environment.metrics.claimed(
                jobs: jobs.count, seconds: (ContinuousClock.now - claimStarted).seconds, onListener: true)
        } catch {
            slots.release(reservation: reservation)
            requestClaim()
            throw error
        }
        slots.release(reservation: reservation - jobs.count)
        if jobs.isEmpty { return }
        let leaseDeadline = claimStarted + configuration.leaseDuration
        if jobs.allSatisfy({ $0.enqueuingTransaction == nil }) {
            admit(jobs.map { LeasedAttempt(job: $0, leaseDeadline: leaseDeadline) }, reservation: jobs.count)
            if jobs.count == reservation { requestClaim() } else if settings.isAging { wake.signal() }
            return
        }
        let handover = Handover(jobs: jobs, reservation: jobs.count, leaseDeadline: leaseDeadline)
        shared.withLock { $0.handovers.append(handover) }
        if jobs.count == reservation { requestClaim() } else { wake.signal() }
    }

    /// Runs until `stopClaiming`, then until its jobs have finished or been released.
    func run() async {
        await withDiscardingTaskGroup { group in
            for _ in 0..<slots.concurrency {
                group.addTask { await self.runSlot() }
            }
            var failures = 0
            var claimNow = true
            while !slots.isStopping {
                await startHandovers(in: &group)
                var settings = shared.withLock { $0.settings }
                if settings.isAging {
                    settings = (try? await QueueSettings.read(queue, on: environment.database)) ?? settings
                    shared.withLock { [settings] in $0.settings = settings }
                }
                var claimedFull = false
                if claimNow && !settings.paused {
                    let limit = slots.reserve(
                        limitedAcrossProcesses: settings.hasConcurrencyLimit,
                        batch: environment.configuration.claimBatchSize)
                    if limit > 0 && environment.acknowledger.isBehind {
                        slots.release(reservation: limit)
                        try? await Task.sleep(for: .milliseconds(5))
                        continue
                    }
                    if limit > 0 {
                        do {
                            let claimStarted = ContinuousClock.now
                            let jobs: [ClaimedJob]
                            do {
                                jobs = try await JobClaimer.claim(
                                    queue: queue, limit: limit, workerID: environment.configuration.workerID,
                                    lease: environment.configuration.leaseDuration,
                                    withinQueueLimit: settings.hasConcurrencyLimit, on: environment.database)
                            } catch {
                                slots.release(reservation: limit)
                                throw error
                            }
                            failures = 0
                            environment.outage.answered()
                            environment.metrics.claimed(
                                jobs: jobs.count, seconds: (ContinuousClock.now - claimStarted).seconds, onListener: false)
                            claimedFull = jobs.count == limit
                            // From before the claim was sent, as in `claimAnnounced`.
                            try await start(
                                jobs, reservation: limit,
                                leaseDeadline: claimStarted + environment.configuration.leaseDuration, in: &group)
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
                }
                if claimedFull && !slots.isStopping { continue }
                let signalled = await wake.wait(timeout: environment.configuration.pollInterval)
                let claimWanted = shared.withLock { shared in
                    defer { shared.claimWanted = false }
                    return shared.claimWanted
                }
                // A wake-up that only handed jobs over needs no claim of its own.
                claimNow = claimWanted || !signalled
            }
            await settleHandovers(in: &group)
            await releaseBuffered()
            await waitForRunningJobs()
        }
    }

    /// Starts claimed jobs, ending the `reservation` their claim held: jobs that must
    /// not run now (`EnqueuingTransaction`) get their outcome unrun; the rest are
    /// admitted to the slots. If the verdicts cannot be read, the reservation is given
    /// back and the jobs' leases lapse (rescued).
    private func start(
        _ jobs: [ClaimedJob], reservation: Int, leaseDeadline: ContinuousClock.Instant,
        in group: inout DiscardingTaskGroup
    ) async throws {
        let verdicts: [Int64: JobOutcome.Result]
        do {
            verdicts = try await EnqueuingTransaction.verdicts(for: jobs, on: environment.database)
        } catch {
            slots.release(reservation: reservation)
            throw error
        }
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
        // Jobs given their outcome unrun free their reserved room too.
        admit(attempts, reservation: reservation)
    }

    /// Claimed attempts that may run join the running registry (renewed by heartbeats)
    /// and go to parked slots or the buffer, ending the `reservation` their claim held.
    private func admit(_ attempts: [LeasedAttempt], reservation: Int) {
        for attempt in attempts { environment.running.add(attempt) }
        slots.accept(attempts, reservation: reservation)
    }

    /// Starts the jobs the listener claimed and handed over.
    private func startHandovers(in group: inout DiscardingTaskGroup) async {
        let handovers = shared.withLock { shared in
            defer { shared.handovers.removeAll() }
            return shared.handovers
        }
        for handover in handovers {
            do {
                try await start(handover.jobs, reservation: handover.reservation, leaseDeadline: handover.leaseDeadline, in: &group)
            } catch {
                if !environment.outage.failed("claiming", error) {
                    environment.log.error(
                        "starting jobs claimed on a notification failed; their leases will lapse and they run again",
                        [("queue", queue), ("error", "\(error)")])
                }
            }
        }
    }

    /// Shutdown: waits for the listener's claims in flight and takes their jobs into the
    /// buffer (stopped slots start nothing), so `releaseBuffered` gives them back.
    private func settleHandovers(in group: inout DiscardingTaskGroup) async {
        while true {
            await startHandovers(in: &group)
            let settled = shared.withLock { $0.handovers.isEmpty } && !slots.hasReservations
            if settled { return }
            await wake.wait(timeout: .milliseconds(50))
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

    /// One slot, for the producer's whole run: runs a job, then the next buffered one,
    /// and parks when the buffer is empty until it is handed one; ends at shutdown.
    /// Wakes the producer when the buffer runs low and when the slot goes idle.
    private func runSlot() async {
        while var attempt = await slots.nextAttempt() {
            while true {
                let started = ContinuousClock.now
                await executor.execute(attempt)
                let (next, bufferLow) = slots.slotFinished(after: (ContinuousClock.now - started).seconds)
                if bufferLow { requestClaim() }
                guard let next else { break }
                attempt = next
            }
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
