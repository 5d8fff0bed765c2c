import Foundation
import PostgresClient
import Synchronization

/// One worker's view of whether the database answers. While it does not (server
/// down, connections killed, `max_connections` exhausted by another client), every
/// part of the worker — claims, heartbeats, outcome writes, housekeeping, the
/// LISTEN connection — fails and retries on its own timer; logging each failure
/// would flood the log with the same news many times a second. Instead the first
/// connection failure of an outage is logged once (what failed, why, what the worker
/// does meanwhile) and later ones are only counted. The outage ends with one line
/// (how long, how many failures) once statements have gone through for `settle`
/// without a failure: while connections are scarce some get through and others do
/// not, and that is still the one outage, not one per flip.
/// Failures that are not connection problems are not the outage's business: their
/// callers log them as before.
final class DatabaseOutage: Sendable {
    private struct State {
        /// When the outage began; nil: no outage.
        var since: ContinuousClock.Instant?
        /// The first answer after the outage's last failure.
        var answeredSince: ContinuousClock.Instant?
        var failures = 0
        var episodes = 0
    }

    /// How long the database must answer without a failure for an outage to be over.
    static let settle = Duration.seconds(5)

    private let state = Mutex(State())
    private let log: JobLog
    private let settle: Duration

    init(log: JobLog, settle: Duration = DatabaseOutage.settle) {
        self.log = log
        self.settle = settle
    }

    /// `activity` ("claiming", "heartbeat", …) failed with `error`. Returns true when
    /// the error is a connection problem: it is part of an outage, logged (first one)
    /// or counted (the rest), and the caller just retries. False: not a connection
    /// problem, the caller logs it itself.
    func failed(_ activity: String, _ error: any Error) -> Bool {
        guard let error = error as? PostgresError, error.isConnectionProblem else { return false }
        let began = state.withLock { state in
            state.answeredSince = nil
            guard state.since == nil else {
                state.failures += 1
                return false
            }
            state.since = .now
            state.failures = 1
            state.episodes += 1
            return true
        }
        if began {
            log.error(
                "database unreachable; backing off: claims, heartbeats and outcome writes retry until it answers",
                [
                    ("during", activity), ("error", "\(error)"),
                    ("hint", "check that the server runs and has free connections (max_connections)"),
                ])
        }
        return true
    }

    /// A statement went through: ends the outage, if there was one and the database
    /// has answered for `settle` since its last failure, with one line.
    func answered() {
        let ended = state.withLock { state -> (Duration, Int)? in
            guard let since = state.since else { return nil }
            let now = ContinuousClock.now
            let first = state.answeredSince ?? now
            state.answeredSince = first
            guard now - first >= settle else { return nil }
            state.since = nil
            state.answeredSince = nil
            return (first - since, state.failures)
        }
        if let (length, failures) = ended {
            log.info(
                "database reachable again; resuming",
                [("outage_s", String(format: "%.1f", length.seconds)), ("failures", "\(failures)")])
        }
    }

    /// Outages so far (`queue_worker_database_outages_total`).
    var episodes: Int { state.withLock { $0.episodes } }
}
