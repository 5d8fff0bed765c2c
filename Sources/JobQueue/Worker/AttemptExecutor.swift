import Foundation

/// Runs one attempt: the handler for its kind, under its time limit, stoppable
/// through its `LeasedAttempt`; turns what happened (returned, threw, timed out,
/// cancelled, lease lost) into an outcome, logs it, counts it, and hands it to the
/// acknowledger. An attempt stopped before it started is settled without running.
struct AttemptExecutor: Sendable {
    let environment: WorkerEnvironment

    /// Runs the attempt and hands its outcome to the acknowledger.
    func execute(_ attempt: LeasedAttempt) async {
        let job = attempt.job
        let log = environment.log
        let started = ContinuousClock.now
        defer { environment.running.remove(attempt) }
        log.debug("job started", [
            ("job_id", "\(job.id)"), ("kind", job.kind), ("queue", job.queue), ("attempt", "\(job.attempt)"),
        ])
        guard let entry = environment.registry.entry(for: job.kind) else {
            let known = environment.registry.kinds.joined(separator: ", ")
            await finish(attempt, .discarded(error: "unknown job kind \"\(job.kind)\"; this worker handles: \(known)"))
            return
        }
        switch attempt.stopReason {
        case .leaseLost?:
            // Rescued while it waited in the buffer: the attempt belongs to someone else.
            log.warning("job not started: its lease was lost while it waited", [("job_id", "\(job.id)")])
            environment.metrics.fencedInRun()
            return
        case .cancelRequested?:
            await finish(attempt, .cancelled(reason: "cancelled on request before it started"))
            return
        case .shutdown?, .timedOut?:
            await finish(attempt, .released)
            return
        case nil:
            break
        }
        if attempt.leaseDeadline <= ContinuousClock.now {
            // No heartbeat renewed it in time (the process was stopped or cut off while
            // the job waited in the buffer): another worker may own it by now. Give it
            // back unstarted; the release is fenced, so it is a no-op if it was rescued.
            log.warning(
                "job not started: its lease ran out while it waited; giving it back",
                [("job_id", "\(job.id)"), ("kind", job.kind), ("attempt", "\(job.attempt)")])
            await finish(attempt, .released)
            return
        }
        if let deadline = job.deadline, deadline < Date() {
            await finish(attempt, .discarded(error: "expired: not started by its deadline \(deadline)"))
            return
        }
        let completion = attempt.completion
        let context = JobContext(
            job: job, database: environment.database, workerID: environment.configuration.workerID, log: log,
            completion: completion)
        // The handler has a task of its own, so stopping it (timeout, cancel request,
        // shutdown) cancels the handler and not the slot that runs attempt after attempt;
        // it starts on this thread at once (`Task.immediate`) and only its first
        // suspension hands it to the pool, rather than every attempt waiting for a pool
        // thread to wake up and take the new task (~0.1 ms of the start latency here).
        // A stop before `attach` is kept in the attempt and cancels the task on attach.
        let handler = Task.immediate { try await entry.run(job.argumentsJSON, context) }
        attempt.attach(handler)
        let timer: Task<Void, Never>? = entry.options.timeout.map { limit in
            Task {
                try? await Task.sleep(for: limit)
                if !Task.isCancelled { attempt.stop(.timedOut(limit)) }
            }
        }
        let result = await handler.result
        attempt.markFinished()
        timer?.cancel()
        let elapsed = ContinuousClock.now - started
        let fields = {
            [
                ("job_id", "\(job.id)"), ("kind", job.kind), ("queue", job.queue), ("attempt", "\(job.attempt)"),
                ("duration_ms", "\(elapsed.milliseconds)"),
            ]
        }

        switch (result, attempt.stopReason) {
        case (.success, _) where completion.isCompleted:
            // Completed in the handler's own transaction, fenced: nothing left to write.
            log.info("job completed", fields())
            environment.metrics.jobFinished(kind: job.kind, outcome: JobOutcome.Result.completed.metricLabel, seconds: elapsed.seconds)
        case (_, .leaseLost?):
            log.warning("job stopped: lease lost, its outcome is left to the attempt that owns it", fields())
            environment.metrics.fencedInRun()
        case (.success, _):
            log.info("job completed", fields())
            await finish(attempt, .completed)
        case (.failure, .cancelRequested?):
            log.info("job cancelled on request", fields())
            await finish(attempt, .cancelled(reason: "cancelled on request while running"))
        case (.failure, .shutdown?):
            log.info("job released at shutdown", fields())
            await finish(attempt, .released)
        case (.failure(let error), .timedOut(let limit)?):
            await fail(attempt, error: "timed out after \(limit) (\(error))", entry: entry, fields: fields)
        case (.failure(let error as JobCancelled), _):
            log.info("job cancelled by its handler", fields() + [("reason", error.reason)])
            await finish(attempt, .cancelled(reason: error.reason))
        case (.failure(let error as any PermanentJobFailure), _):
            let reason = Self.describe(error)
            log.warning("job discarded: its failure is permanent", fields() + [("error", reason)])
            await finish(attempt, .discarded(error: reason))
        case (.failure(let error as JobSnoozed), _):
            log.info("job snoozed", fields() + [("delay", "\(error.delay)")])
            await finish(attempt, .snoozed(until: Date().addingTimeInterval(error.delay.seconds)))
        case (.failure(JobQueueError.leaseLost), _):
            log.warning("job's lease was lost before it could complete", fields())
            environment.metrics.fencedInRun()
        case (.failure(let error), _):
            await fail(attempt, error: Self.describe(error), entry: entry, fields: fields)
        }
    }

    private func fail(
        _ attempt: LeasedAttempt, error: String, entry: JobHandlerRegistry.Entry,
        fields: () -> [(String, String)]
    ) async {
        let job = attempt.job
        if job.isLastAttempt {
            environment.log.warning("job failed on its last attempt; discarded", fields() + [("error", error)])
            await finish(attempt, .discarded(error: error))
        } else {
            let delay = entry.options.retryPolicy.delay(afterAttempt: job.attempt)
            environment.log.warning("job failed; will retry", fields() + [("error", error), ("retry_in", "\(delay)")])
            await finish(attempt, .retry(at: Date().addingTimeInterval(delay.seconds), error: error))
        }
    }

    /// Hands the outcome to the acknowledger, the attempt marked finished first: the
    /// write can end its lease before the slot removes it from the running registry.
    func finish(_ attempt: LeasedAttempt, _ result: JobOutcome.Result) async {
        attempt.markFinished()
        environment.metrics.jobFinished(
            kind: attempt.job.kind, outcome: result.metricLabel, seconds: (ContinuousClock.now - attempt.claimedAt).seconds)
        await environment.acknowledger.submit(JobOutcome(lease: attempt.job.lease, attempt: attempt.job.attempt, result: result))
    }

    private static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        return text.count > 2000 ? String(text.prefix(2000)) + "…" : text
    }
}
