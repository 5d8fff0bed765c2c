import PostgresClient

/// Renews the leases of every job running in this process with one statement per
/// interval, and passes on operators' cancel requests. A job whose renewal is refused (it was rescued and belongs to another
/// attempt now), or whose lease ran out while the database was unreachable, has its
/// handler cancelled: its outcome could not be written anyway. A row that is no longer
/// leased because of the attempt's own outcome (written by the acknowledger, or its
/// completion in the handler's transaction, perhaps deleting the row) is not a loss.
struct LeaseKeeper: Sendable {
    let database: PostgresPool
    let running: RunningJobs
    let configuration: WorkerConfiguration
    let log: JobLog
    let outage: DatabaseOutage

    /// Tests "still running under this lease" as the outcome statement does
    /// (`JobAckStatements.stillLeased`, whose plan does not depend on the statistics'
    /// idea of how many jobs run). One statement per queue ($4), so on a Citus cluster
    /// each runs on one shard.
    static let renew = """
        UPDATE queue.jobs AS j SET lease_expires_at = now() + $3 * interval '1 millisecond'
        FROM unnest($1::int8[], $2::int8[]) AS a(id, lease_id)
        WHERE j.queue = $4 AND j.id = a.id AND \(JobAckStatements.stillLeased("j", by: "a"))
        RETURNING j.id, j.cancel_requested_at IS NOT NULL
        """

    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.heartbeatInterval)
            if Task.isCancelled { return }
            await renewOnce()
        }
    }

    func renewOnce() async {
        let attempts = running.all
        guard !attempts.isEmpty else { return }
        let started = ContinuousClock.now
        let lease = configuration.leaseDuration
        do {
            var renewed: [Int64: Bool] = [:]
            // In job id order, as the outcome writer locks rows (JobAcknowledger.write).
            for (queue, queued) in Dictionary(grouping: attempts.sorted { $0.job.id < $1.job.id }, by: \.job.queue) {
                let result = try await database.query(
                    Self.renew, [queued.map(\.job.id), queued.map(\.job.lease.leaseID), lease.milliseconds, queue])
                for row in result.rows {
                    let (id, cancelRequested) = try row.decode((Int64, Bool).self)
                    renewed[id] = cancelRequested
                }
            }
            outage.answered()
            for attempt in attempts {
                if let cancelRequested = renewed[attempt.job.id] {
                    attempt.leaseDeadline = started + lease
                    if cancelRequested {
                        log.info("cancel requested; stopping the handler", [("job_id", "\(attempt.job.id)")])
                        attempt.stop(.cancelRequested)
                    }
                } else if !attempt.mayHaveEndedItsLease && running.all.contains(where: { $0 === attempt }) {
                    log.warning("lease lost; stopping the handler", [("job_id", "\(attempt.job.id)")])
                    attempt.stop(.leaseLost)
                }
            }
        } catch {
            if !outage.failed("heartbeat", error) {
                log.error("heartbeat failed", [("error", "\(error)")])
            }
            let now = ContinuousClock.now
            for attempt in attempts where attempt.leaseDeadline < now {
                attempt.stop(.leaseLost)
            }
        }
    }
}
