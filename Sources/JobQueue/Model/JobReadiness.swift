/// The one rule for when a job that may run becomes `available`: once its run-at has
/// come; until then it waits as `scheduled` (or `retryable` after a failure). Every
/// statement that puts a job where it may run — enqueue, workflow resolution,
/// staging, writing a retry or snooze — takes the state from here, and wakes the
/// queue's workers through `JobChannel`.
enum JobReadiness {
    /// SQL: true once the run-at `runAt` (an SQL expression) has come.
    static func isDue(runAt: String) -> String { "\(runAt) <= now()" }

    /// SQL: `available` once due, else `waiting` (an SQL expression giving
    /// `scheduled` or `retryable`).
    static func state(runAt: String, waiting: String = JobState.scheduled.sql) -> String {
        "CASE WHEN \(isDue(runAt: runAt)) THEN \(JobState.available.sql) ELSE \(waiting) END"
    }
}
