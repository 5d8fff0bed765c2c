/// When a failed job runs again: exponential backoff with jitter, capped.
///
/// delay(n) = min(maxDelay, base · 2^(n−1)) · (1 ± jitter), for the n-th failed
/// attempt. Jitter spreads retries of jobs that failed together (an outage) so they
/// do not all come back in the same second; each job's share of it is its
/// `JobJitter` for that attempt (seeded by the job id and the attempt).
public struct RetryPolicy: Sendable, Equatable {
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// Fraction of the delay, 0 … 1.
    public var jitter: Double

    public init(baseDelay: Duration = .seconds(2), maxDelay: Duration = .seconds(3600), jitter: Double = 0.2) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = min(max(jitter, 0), 1)
    }

    public static let `default` = RetryPolicy()

    /// The delay before job `jobID` runs again after its failed attempt `attempt`
    /// (1-based).
    public func delay(ofJob jobID: Int64, afterAttempt attempt: Int) -> Duration {
        delay(afterAttempt: attempt, share: JobJitter(jobID: jobID, attempt: attempt).signedShare)
    }

    /// The delay after failed attempt `attempt` with the jitter at `share` of its
    /// range: −1 is `1 − jitter` times the backoff, 1 is `1 + jitter` times it.
    public func delay(afterAttempt attempt: Int, share: Double) -> Duration {
        let base = baseDelay.seconds
        let exponent = Double(min(max(attempt - 1, 0), 62))
        let raw = min(maxDelay.seconds, base * pow2(exponent))
        let jittered = raw * (1 + jitter * min(max(share, -1), 1))
        return .milliseconds(Int64((max(0, jittered) * 1000).rounded()))
    }

    private func pow2(_ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= 2; if result > 1e12 { break } }
        return result
    }
}
