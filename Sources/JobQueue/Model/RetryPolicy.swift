/// When a failed job runs again: exponential backoff with jitter, capped.
///
/// delay(n) = min(maxDelay, base · 2^(n−1)) · (1 ± jitter), for the n-th failed
/// attempt. Jitter spreads retries of jobs that failed together (an outage) so they
/// do not all come back in the same second.
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

    /// The delay before the attempt after failed attempt `attempt` (1-based).
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: -1...1)) -> Duration {
        let base = baseDelay.seconds
        let exponent = Double(min(max(attempt - 1, 0), 62))
        let raw = min(maxDelay.seconds, base * pow2(exponent))
        let jittered = raw * (1 + jitter * min(max(random, -1), 1))
        return .milliseconds(Int64((max(0, jittered) * 1000).rounded()))
    }

    private func pow2(_ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= 2; if result > 1e12 { break } }
        return result
    }
}
