import PostgresClient

/// Renews the leases of every job running in this process with one statement per
/// interval. A job whose renewal is refused (it was rescued and belongs to another
/// attempt now), or whose lease ran out while the database was unreachable, has its
/// handler cancelled: its outcome could not be written anyway.
struct LeaseKeeper: Sendable {
    let database: PostgresPool
    let running: RunningJobs
    let configuration: WorkerConfiguration
    let log: JobLog

    static let renew = """
        UPDATE queue.jobs AS j SET lease_expires_at = now() + $3 * interval '1 millisecond'
        FROM unnest($1::int8[], $2::int8[]) AS a(id, lease_id)
        WHERE j.id = a.id AND j.lease_id = a.lease_id AND j.state = 'running'
        RETURNING j.id
        """

    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.heartbeatInterval)
            if Task.isCancelled { return }
            await renewOnce()
        }
    }

    func renewOnce() async {
        let executions = running.all
        guard !executions.isEmpty else { return }
        let started = ContinuousClock.now
        let lease = configuration.leaseDuration
        let milliseconds = lease.components.seconds * 1000 + lease.components.attoseconds / 1_000_000_000_000_000
        do {
            let result = try await database.query(
                Self.renew, [executions.map(\.job.id), executions.map(\.job.lease.leaseID), milliseconds])
            let renewed = Set(try result.rows.map { try $0.decode(0, as: Int64.self) })
            for execution in executions {
                if renewed.contains(execution.job.id) {
                    execution.leaseDeadline = started + lease
                } else if running.all.contains(where: { $0 === execution }) {
                    log.warning("lease lost; stopping the handler", [("job_id", "\(execution.job.id)")])
                    execution.stop(.leaseLost)
                }
            }
        } catch {
            log.error("heartbeat failed", [("error", "\(error)")])
            let now = ContinuousClock.now
            for execution in executions where execution.leaseDeadline < now {
                execution.stop(.leaseLost)
            }
        }
    }
}
