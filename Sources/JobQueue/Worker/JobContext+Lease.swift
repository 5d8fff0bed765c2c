import PostgresClient

extension JobContext {
    /// Whether this attempt still owns its job: same lease id, lease not run out.
    static let leaseHeld = """
        SELECT 1 FROM queue.jobs WHERE queue = $3 AND id = $1 AND lease_id = $2 AND lease_expires_at > now()
        """

    /// Throws `JobQueueError.leaseLost` unless this attempt still holds its lease,
    /// checked in the database (one round trip). Call it right before an effect
    /// outside the database (an SMS, a transfer): a worker that stalled — stopped,
    /// paused by the OS, cut off — while another process rescued its job must not
    /// make the call the new attempt is making too. The runtime writes no outcome
    /// for an attempt that ended with `leaseLost`: the job belongs to its new owner.
    public func ensureLeaseHeld() async throws {
        let lease = job.lease
        if try await database.query(Self.leaseHeld, [lease.jobID, lease.leaseID, lease.queue]).first == nil {
            throw JobQueueError.leaseLost(jobID: lease.jobID)
        }
    }
}
