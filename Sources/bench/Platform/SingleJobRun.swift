import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// One platform job timed through a real JobWorker on the maintenance queue: enqueued,
/// then worked from the worker's start until its row is final, with the server's CPU
/// over that time. The phases that time one periodic job (coupon expiry, nightly
/// recommendations) share it.
struct SingleJobRun {
    let options: PlatformOptions
    let pool: PostgresPool
    let serverPID: Int32?

    struct Outcome: Sendable {
        var state: JobState
        /// Worker start → job row final, observed by polling.
        var wall: Duration
        var cpu: CPUSpent
        /// The job's attempt on the server's clock: claimed → finalized.
        var jobSeconds: Double?
    }

    /// Runs `request` to a final state; `name` names the job in messages, `workerName`
    /// the worker; progress is logged every 30 s when `reportsProgress`.
    func run(
        _ request: JobRequest, name: String, workerName: String, services: PlatformServices, workerLog: JobLog,
        pollEvery interval: Duration, reportsProgress: Bool = false
    ) async throws -> Outcome {
        let jobID = try await JobQueueClient(database: pool).enqueue(request).id
        let worker = try JobWorker(
            database: options.database.configuration, handlers: PlatformJobs.handlers(services),
            configuration: WorkerConfiguration(
                queues: [PlatformJobs.maintenanceQueue: 1],
                workerID: "bench-platform-\(workerName)-\(ProcessInfo.processInfo.processIdentifier)",
                runsLeaderServices: false),
            log: workerLog)
        let clock = ContinuousClock()
        let started = clock.now
        let cpuBefore = CPUSample.take(serverPID: serverPID)
        let running = Task { try await worker.run() }
        let administration = JobAdministration(database: pool)
        var state = JobState.available
        let finished: Set<JobState> = [.completed, .discarded, .cancelled, .retryable]
        do {
            var nextProgress = started + .seconds(30)
            while true {
                guard let job = try await administration.show(jobID) else {
                    throw BenchFailure("\(name) job \(jobID) is gone from the queue")
                }
                state = job.job.state
                if finished.contains(state) { break }
                // A bound for a job that hangs, far above the longest measured run (a
                // million customers' recommendations: 49 minutes under load).
                if clock.now - started > .seconds(4 * 3600) {
                    throw BenchFailure("\(name) job \(jobID) still \(state) after four hours")
                }
                if reportsProgress && clock.now >= nextProgress {
                    nextProgress = clock.now + .seconds(30)
                    Output.log("  job \(state.rawValue) after \(Int((clock.now - started).seconds)) s")
                }
                try await Task.sleep(for: interval)
            }
        } catch {
            worker.shutdown()
            try? await running.value
            throw error
        }
        let wall = clock.now - started
        let cpu = cpuBefore.until(CPUSample.take(serverPID: serverPID))
        worker.shutdown()
        try await running.value
        let detail = try await administration.show(jobID)
        let jobSeconds = detail.flatMap { detail in
            detail.attemptedAt.flatMap { attempted in detail.job.finalizedAt?.timeIntervalSince(attempted) }
        }
        return Outcome(state: state, wall: wall, cpu: cpu, jobSeconds: jobSeconds)
    }
}
