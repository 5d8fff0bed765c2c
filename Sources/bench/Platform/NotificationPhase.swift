import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// Queues notifications through the batch `NotificationOutbox.queue` (outbox rows +
/// their batch dispatch jobs, one transaction and two statements per batch) or,
/// with `--one-by-one`, a call (outbox row + dispatch job) per message; then
/// dispatches them with JobWorkers running the platform's handlers against a
/// gateway that answers at once.
struct NotificationPhase {
    let options: PlatformOptions
    let pool: PostgresPool
    let dataset: Dataset
    let serverPID: Int32?

    static let template = "order_status"

    struct Result: Sendable {
        var notifications: Int
        var queueing: Duration
        /// Workers' start → every notification `sent` in the database.
        var dispatch: Duration
        var sent: Int
        var found: Int
        var providerCalls: Int
        var providerDistinct: Int
        var providerRepeated: Int
        var providerMissing: Int
        var providerUnexpected: Int
        /// Dispatch jobs by state, and jobs that took more than one attempt.
        var jobStates: [(JobState, Int)]
        /// The dispatch jobs the queueing made: one per message, or one per batch.
        var expectedJobs: Int
        var jobsRetried: Int
        var fencedOutcomes: Int
        var flowControlDelayed: Int
        var suppressed: Int
        var queueingCPU: CPUSpent
        var dispatchCPU: CPUSpent

        var verified: Bool {
            sent == notifications && found == notifications && providerCalls == notifications
                && providerDistinct == notifications && providerRepeated == 0 && providerMissing == 0
                && providerUnexpected == 0 && jobStates.count == 1 && jobStates.first?.0 == .completed
                && jobStates.first?.1 == expectedJobs
        }
        var queueRate: Double { Double(notifications) / queueing.seconds }
        var dispatchRate: Double { Double(notifications) / dispatch.seconds }
    }

    func run() async throws -> Result {
        let count = options.notifications
        // The server's clock: the run's dispatch jobs are those of the kind created since.
        let queuedSince = try await pool.query("SELECT now()").scalar(Date.self)
        let (ids, queueing, queueingCPU) = try await queue(count)
        let first = ids.min() ?? 0
        let last = ids.max() ?? 0

        // Statistics and a checkpoint for the freshly queued rows, so autovacuum's
        // analyse and a checkpoint do not land in the timed dispatch.
        Output.log("ANALYZE of the job table and platform.notifications; CHECKPOINT (untimed) …")
        _ = try await pool.withConnection { try Settle.run([JobTable.analyze, "ANALYZE platform.notifications"], on: $0) }

        let provider = InstantProvider()
        let tally = LogTally()
        let services = PlatformServices(provider: provider, log: tally.log(minimumLevel: .info))
        let workerLog = LogTally()
        let workers = try (0..<options.workers).map { index in
            try JobWorker(
                database: options.database.configuration, handlers: PlatformJobs.handlers(services),
                configuration: options.dispatchWorkerConfiguration(name: "dispatch", index: index),
                log: workerLog.log(minimumLevel: .warning))
        }

        Output.log(
            "dispatching \(count) notifications: \(options.workers) worker(s) × concurrency \(options.concurrency) "
                + "on queue \(NotificationOutbox.dispatchQueue) …")
        let clock = ContinuousClock()
        let started = clock.now
        let cpuBefore = CPUSample.take(serverPID: serverPID)
        let running = workers.map { worker in Task { try await worker.run() } }
        let dispatch: Duration
        let dispatchCPU: CPUSpent
        do {
            var seen = 0
            var lastChange = clock.now
            var nextProgress = started + .seconds(10)
            while provider.sendCount < count {
                try await Task.sleep(for: .milliseconds(20))
                let now = clock.now
                if provider.sendCount != seen {
                    seen = provider.sendCount
                    lastChange = now
                } else if now - lastChange > .seconds(120) {
                    throw BenchFailure("dispatch stalled at \(seen) of \(count) sends for 2 minutes")
                }
                if now >= nextProgress {
                    nextProgress = now + .seconds(10)
                    let rate = Double(seen) / (now - started).seconds
                    Output.log("  \(seen) handed to the provider (\(Int(rate.rounded()))/s so far)")
                }
            }
            // Every message reached the provider; wait for the last "sent" commits.
            while true {
                let sent = try await pool.query(
                    "SELECT count(*)::int8 FROM platform.notifications WHERE id BETWEEN $1 AND $2 AND status = 'sent'",
                    [first, last]
                ).scalar(Int64.self)
                if sent >= count { break }
                if clock.now - lastChange > .seconds(60) { break }  // verification reports the shortfall
                try await Task.sleep(for: .milliseconds(5))
            }
            dispatch = clock.now - started
            dispatchCPU = cpuBefore.until(CPUSample.take(serverPID: serverPID))
        } catch {
            for worker in workers { worker.shutdown() }
            for task in running { try? await task.value }
            throw error
        }
        for worker in workers { worker.shutdown() }
        var fenced = 0
        for (worker, task) in zip(workers, running) {
            try await task.value
            fenced += await worker.fencedOutcomeCount()
        }

        // Verification: the database, the provider's own count, and the jobs.
        let (sent, found) = try await pool.query(
            "SELECT count(*) FILTER (WHERE status = 'sent')::int8, count(*)::int8 FROM platform.notifications WHERE id = ANY($1)",
            [ids]
        ).rows[0].decode((Int64, Int64).self)
        let calls = provider.callsByNotification
        let queued = Set(ids)
        var byState: [JobState: JobCounts.InState] = [:]
        for kind in [DispatchNotification.kind, DispatchNotificationBatch.kind] {
            let counts = try await pool.withConnection { connection in
                try JobCounts.byState(kind: kind, createdSince: queuedSince, on: connection)
            }
            for (state, count) in counts {
                let sum = byState[state] ?? JobCounts.InState(jobs: 0, retried: 0)
                byState[state] = JobCounts.InState(jobs: sum.jobs + count.jobs, retried: sum.retried + count.retried)
            }
        }
        let states = byState.sorted { $0.key.rawValue < $1.key.rawValue }
        let expectedJobs = options.oneByOne ? count : (count + NotificationOutbox.dispatchBatchSize - 1) / NotificationOutbox.dispatchBatchSize
        return Result(
            notifications: count, queueing: queueing, dispatch: dispatch, sent: Int(sent), found: Int(found),
            providerCalls: calls.values.reduce(0, +), providerDistinct: calls.count,
            providerRepeated: calls.values.filter { $0 > 1 }.count,
            providerMissing: queued.filter { calls[$0] == nil }.count,
            providerUnexpected: calls.keys.filter { !queued.contains($0) }.count,
            jobStates: states.map { ($0.key, $0.value.jobs) }, expectedJobs: expectedJobs, jobsRetried: states.map(\.value.retried).reduce(0, +),
            fencedOutcomes: fenced, flowControlDelayed: tally.count("notification delayed by flow control"),
            suppressed: tally.count("notification suppressed by flow control")
                + tally.count("notification suppressed: past its validity"),
            queueingCPU: queueingCPU, dispatchCPU: dispatchCPU)
    }

    /// Queues `count` notifications, `options.queueBatch` per transaction, one
    /// recipient per customer in turn. Returns the notification ids and the time taken.
    private func queue(_ count: Int) async throws -> ([Int64], Duration, CPUSpent) {
        Output.log(
            "queueing \(count) notifications (\(Self.template)) through "
                + (options.oneByOne ? "NotificationOutbox.queue(template:…), one call each" : "the batch NotificationOutbox.queue")
                + ", \(options.queueBatch) per transaction …")
        let phones = dataset.phones
        let run = dataset.run
        let oneByOne = options.oneByOne
        let clock = ContinuousClock()
        let started = clock.now
        let cpuBefore = CPUSample.take(serverPID: serverPID)
        var ids: [Int64] = []
        ids.reserveCapacity(count)
        var nextProgress = started + .seconds(10)
        for batchStart in stride(from: 0, to: count, by: options.queueBatch) {
            let range = batchStart..<min(count, batchStart + options.queueBatch)
            let messages = range.map { index in
                NotificationOutbox.Message(
                    template: Self.template, parameters: ["order": "PB\(run)-\(index)", "status": "已接单"],
                    recipient: phones[index % phones.count], dedupeKey: "platform-bench:\(run):\(index)")
            }
            let batch = try await pool.withTransaction { connection -> [Int64?] in
                let now = Date()
                if !oneByOne { return try NotificationOutbox.queue(messages, now: now, on: connection) }
                return try messages.map { message in
                    try NotificationOutbox.queue(
                        template: message.template, parameters: message.parameters, recipient: message.recipient,
                        dedupeKey: message.dedupeKey, now: now, on: connection)
                }
            }
            for (message, id) in zip(messages, batch) {
                guard let id else { throw BenchFailure("dedupe key \(message.dedupeKey) was already used") }
                ids.append(id)
            }
            if clock.now >= nextProgress {
                nextProgress = clock.now + .seconds(10)
                Output.log("  \(ids.count) queued")
            }
        }
        let elapsed = clock.now - started
        return (ids, elapsed, cpuBefore.until(CPUSample.take(serverPID: serverPID)))
    }
}
