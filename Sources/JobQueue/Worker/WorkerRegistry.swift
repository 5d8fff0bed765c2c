import Foundation
import PostgresClient

/// The worker processes alive, for operators (idle ones too, which hold no job
/// lease): each process upserts its row in `queue.workers` when it starts and on
/// every heartbeat — one statement per heartbeat interval however many jobs it
/// runs — and deletes it on a clean shutdown. A row past its expiry (a lease
/// duration without a heartbeat) belongs to a process that died; the leader
/// prunes those rows.
struct WorkerRegistry: Sendable {
    let database: PostgresPool
    let configuration: WorkerConfiguration
    let log: JobLog
    let outage: DatabaseOutage

    /// A row that had expired (a process id reused after a crash) starts afresh.
    static let upsert = """
        INSERT INTO queue.workers AS w (id, host, pid, queues, slots, expires_at)
        VALUES ($1, $2, $3::int4, $4::text[], $5::int4[], now() + $6 * interval '1 millisecond')
        ON CONFLICT (id) DO UPDATE SET
            host = EXCLUDED.host, pid = EXCLUDED.pid, queues = EXCLUDED.queues, slots = EXCLUDED.slots,
            started_at = CASE WHEN w.expires_at < now() THEN now() ELSE w.started_at END,
            seen_at = now(), expires_at = EXCLUDED.expires_at
        """

    static let remove = "DELETE FROM queue.workers WHERE id = $1"

    static let prune = "DELETE FROM queue.workers WHERE expires_at < now()"

    /// Registers this process, then renews its row every heartbeat interval until cancelled.
    func run() async {
        while !Task.isCancelled {
            await renewOnce()
            try? await Task.sleep(for: configuration.heartbeatInterval)
        }
    }

    func renewOnce() async {
        let queues = configuration.queues.sorted { $0.key < $1.key }
        do {
            try await database.query(
                Self.upsert,
                [
                    configuration.workerID, ProcessInfo.processInfo.hostName, ProcessInfo.processInfo.processIdentifier,
                    queues.map(\.key), queues.map { Int32(clamping: $0.value) }, configuration.leaseDuration.milliseconds,
                ])
            outage.answered()
        } catch {
            if !outage.failed("worker registry heartbeat", error) {
                log.error("worker registry heartbeat failed", [("error", "\(error)")])
            }
        }
    }

    /// Removes this process's row (a clean shutdown).
    func deregister() async {
        do {
            try await database.query(Self.remove, [configuration.workerID])
        } catch {
            log.warning("could not remove this worker from the registry; it expires by itself", [("error", "\(error)")])
        }
    }

    /// Deletes the rows of processes that stopped renewing them; returns how many.
    static func pruneDead(on database: PostgresPool) async throws -> Int {
        try await database.query(prune).affectedRows
    }
}
