public import Foundation
import SeededRandom

/// The one way retries, snoozes and held-back work are spread: a share drawn by the
/// project's seeded generator (`SeededRandom`) from what identifies the event — a job
/// id and its attempt for a retry, a job id and the moment it waits until for a snooze.
/// Jobs that fail or are held back together draw different shares, so they do not
/// come back in the same instant; the same event always draws the same share, so a
/// test (or an operator reading `run_at`) can predict it.
public struct JobJitter: Sendable, Equatable {
    /// Where in its spread the event falls, in [0, 1).
    public let share: Double

    /// The jitter of job `jobID`'s retry after its failed attempt `attempt`.
    public init(jobID: Int64, attempt: Int) {
        self.init(jobID: jobID, event: UInt64(bitPattern: Int64(attempt)))
    }

    /// The jitter of job `jobID` held back until `moment` (to the millisecond).
    public init(jobID: Int64, moment: Date) {
        self.init(jobID: jobID, event: UInt64(bitPattern: Int64((moment.timeIntervalSince1970 * 1000).rounded())))
    }

    private init(jobID: Int64, event: UInt64) {
        // The job id is mixed first, so that neighbouring ids and events (job 1's
        // attempt 2, job 2's attempt 1) do not give one seed.
        var byJob = SeededRandom(seed: UInt64(bitPattern: jobID))
        var random = SeededRandom(seed: byJob.next() ^ event)
        share = random.fraction()
    }

    /// The share on [-1, 1): for a spread on both sides of a value.
    public var signedShare: Double { share * 2 - 1 }
}
