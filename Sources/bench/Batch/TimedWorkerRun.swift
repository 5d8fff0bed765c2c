import BenchSupport
import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient

/// Starts a worker, runs `start` (which enqueues the work and returns a check for
/// "done"), and times from the start until the check holds.
enum TimedWorkerRun {
    static func time(
        _ configuration: PostgresConfiguration, services: PlatformServices, queues: [String: Int],
        _ start: (PostgresPool) async throws -> @Sendable () async throws -> Bool
    ) async throws -> Double {
        let pool = PostgresPool(configuration: configuration, maxConnections: 2)
        let worker = try JobWorker(
            database: configuration, handlers: PlatformJobs.handlers(services),
            configuration: WorkerConfiguration(
                queues: queues, pollInterval: .milliseconds(100), leaseDuration: .seconds(120),
                leaderInterval: .milliseconds(200)),
            log: JobLog(minimumLevel: .warning))
        let task = Task { try await worker.run() }
        let began = ContinuousClock.now
        let done = try await start(pool)
        while try await !done() {
            try await Task.sleep(for: .milliseconds(50))
        }
        let elapsed = ContinuousClock.now - began
        worker.shutdown()
        try await task.value
        return elapsed.seconds
    }
}

/// A payout provider that answers at once, so the benchmark measures our side.
struct InstantPayouts: PayoutProvider {
    func pay(_ instruction: PayoutInstruction) async throws -> PayoutResult {
        .paid(reference: "bench-\(instruction.idempotencyKey)")
    }
}
