import BenchSupport

/// What one bulk-enqueue measurement spent per 1 000 jobs: the server's CPU (its
/// backends and background processes), the client's (our producers, or pgbench) and
/// the WAL written, beside the wall time. On a machine whose cores serve both, this
/// is where an enqueue rate goes: a ratio of rates alone does not say whether the
/// difference is the statement's server work, the client's or waiting.
struct EnqueueCost: Sendable {
    /// Milliseconds of server CPU per 1 000 jobs; nil when the server is not local.
    var serverCPU: Double?
    var clientCPU: Double
    var walKiB: Double
    var wall: Double

    init(jobs: Int, elapsed: Duration, clientCPU: Duration, spent: (cpu: CPUSpent, walBytes: Int64)) {
        let perThousand = 1000 / Double(jobs)
        serverCPU = spent.cpu.server.map { $0 * 1000 * perThousand }
        self.clientCPU = clientCPU.seconds * 1000 * perThousand
        walKiB = Double(spent.walBytes) / 1024 * perThousand
        wall = elapsed.seconds * 1000 * perThousand
    }
}

extension [EnqueueCost] {
    /// The median of one figure over the measurements that have it (repetitions are
    /// summarized by medians); nil when none has it, as the server's CPU when the
    /// server is not local.
    func median(_ figure: (EnqueueCost) -> Double?) -> Double? {
        Percentile.linear(compactMap(figure), 50)
    }
}
