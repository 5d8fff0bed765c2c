public import PostgresClient

extension RateLimit {
    /// The newest permit `jobID` took under this key.
    static let giveBack = """
        DELETE FROM queue.rate_limit_permits
        WHERE ctid = (SELECT ctid FROM queue.rate_limit_permits WHERE key = $1 AND job_id = $2
                      ORDER BY taken_at DESC LIMIT 1)
        """

    /// Returns the permit `jobID` took when the action it was for did not happen
    /// (the gateway refused or failed), so a limit counts what was done, not what
    /// was tried: an outage does not use up a recipient's allowance. Returns
    /// whether a permit was given back.
    @discardableResult
    public func giveBack(on connection: PostgresConnection, jobID: Int64) throws -> Bool {
        try connection.execute(Self.giveBack, [key, jobID]) > 0
    }
}
