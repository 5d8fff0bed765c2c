import Metrics
import PostgresClient
import Synchronization

/// What one worker process counts, exposed as Prometheus text: outcomes and run
/// time per kind, claim round-trip time, plus jobs by queue and state read from
/// the database at scrape time.
final class WorkerMetrics: Sendable {
    private struct OutcomeKey: Hashable {
        var kind: String
        var outcome: String
    }

    private struct State {
        var outcomes: [OutcomeKey: Int] = [:]
        var durations: [String: PrometheusText.Histogram] = [:]
        var claimLatency = PrometheusText.Histogram(upperBounds: WorkerMetrics.claimBuckets)
        var claimedJobs = 0
        var listenerClaims = 0
        var fencedInRun = 0
    }

    /// Where an attempt met the lease fence (`queue_worker_fenced_outcomes_total{at}`):
    /// it learned while running or waiting that its lease was lost and stopped with
    /// nothing written, or the database refused its outcome write.
    enum FenceStage: String {
        case run
        case write
    }

    static let durationBuckets: [Double] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120]
    static let claimBuckets: [Double] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1]

    private let state = Mutex(State())

    func jobFinished(kind: String, outcome: String, seconds: Double) {
        state.withLock { state in
            state.outcomes[OutcomeKey(kind: kind, outcome: outcome), default: 0] += 1
            state.durations[kind, default: PrometheusText.Histogram(upperBounds: Self.durationBuckets)].observe(seconds)
        }
    }

    /// An attempt stopped because its lease was lost; its outcome belongs to another attempt.
    func fencedInRun() {
        state.withLock { $0.fencedInRun += 1 }
    }

    /// A claim statement returned `jobs`; `onListener`: it ran on the LISTEN connection
    /// as a notification arrived (`QueueProducer.claimAnnounced`), not on the pool.
    func claimed(jobs: Int, seconds: Double, onListener: Bool) {
        state.withLock { state in
            state.claimLatency.observe(seconds)
            state.claimedJobs += jobs
            if onListener { state.listenerClaims += 1 }
        }
    }

    /// Claim statements run on the LISTEN connection so far.
    var listenerClaims: Int { state.withLock { $0.listenerClaims } }

    /// The claim round trips so far (cumulative, like the exposition).
    var claimLatency: PrometheusText.Histogram { state.withLock { $0.claimLatency } }

    static let jobsByState = "SELECT queue, state, count(*)::int8 FROM queue.jobs GROUP BY queue, state ORDER BY 1, 2"

    /// `fencedWrites`: outcome writes the database refused so far (the acknowledger's count);
    /// `outages`: times the database stopped answering (`DatabaseOutage`).
    func render(database: PostgresPool, running: Int, fencedWrites: Int, outages: Int) async -> String {
        let snapshot = state.withLock { $0 }
        var text = PrometheusText()
        let rows = try? await database.query(Self.jobsByState).rows
        text.gauge("queue_database_up", help: "1 when the database answered the scrape's query.", value: rows == nil ? 0 : 1)
        if let rows {
            for row in rows {
                guard let (queue, state, count) = try? row.decode((String, String, Int64).self) else { continue }
                text.gauge(
                    "queue_jobs", help: "Jobs in the table by queue and state.", value: Double(count),
                    labels: ["queue": queue, "state": state])
            }
        }
        text.gauge("queue_worker_running_jobs", help: "Jobs running in this process.", value: Double(running))
        text.counter(
            "queue_worker_claimed_jobs_total", help: "Jobs claimed by this process.", value: Double(snapshot.claimedJobs))
        text.counter(
            "queue_worker_listener_claims_total",
            help: "Claim statements this process ran on its LISTEN connection as a notification arrived.",
            value: Double(snapshot.listenerClaims))
        for (stage, count) in [(FenceStage.run, snapshot.fencedInRun), (FenceStage.write, fencedWrites)] {
            text.counter(
                "queue_worker_fenced_outcomes_total",
                help: "Attempts of this process whose outcome the lease fence kept out, by where they met it.",
                value: Double(count), labels: ["at": stage.rawValue])
        }
        text.counter(
            "queue_worker_database_outages_total",
            help: "Times the database stopped answering this process (connection failures until a statement went through).",
            value: Double(outages))
        for (key, count) in snapshot.outcomes.sorted(by: { ($0.key.kind, $0.key.outcome) < ($1.key.kind, $1.key.outcome) }) {
            text.counter(
                "queue_worker_jobs_total", help: "Attempts finished by this process, by kind and outcome.",
                value: Double(count), labels: ["kind": key.kind, "outcome": key.outcome])
        }
        for (kind, histogram) in snapshot.durations.sorted(by: { $0.key < $1.key }) {
            text.histogram(
                "queue_worker_job_duration_seconds", help: "Run time of attempts, claim to outcome.", histogram,
                labels: ["kind": kind])
        }
        text.histogram(
            "queue_worker_claim_seconds", help: "Round-trip time of claim statements.", snapshot.claimLatency)
        return text.render()
    }
}
