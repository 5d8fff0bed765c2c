import BenchSupport
import PostgresClient
import SeededRandom

/// The wrapper's side: one connection, one statement per step, as fast as it goes.
enum WrapperLoop {
    struct Run {
        let transactions: Int
        let seconds: Double
        /// This process's CPU time (user + system) during the loop.
        let cpuSeconds: Double
        var transactionsPerSecond: Double { Double(transactions) / seconds }
    }

    /// Runs `workload` for `seconds` on `connection`, which should be fresh (as
    /// pgbench's is: its prepared statements start cold too). Connecting is not timed,
    /// as in pgbench's "without initial connection time".
    static func run(_ workload: Workload, on connection: PostgresConnection, seconds: Int, seed: UInt64) throws -> Run {
        var random = SeededRandom(seed: seed)
        let cpuBefore = CPUTime.ofThisProcess().seconds
        let start = MonotonicClock.nanoseconds()
        let deadline = start + UInt64(seconds) * 1_000_000_000
        var transactions = 0
        var now = start
        repeat {
            try workload.step(connection, &random)
            transactions += 1
            now = MonotonicClock.nanoseconds()
        } while now < deadline
        return Run(
            transactions: transactions, seconds: Double(now - start) / 1e9, cpuSeconds: CPUTime.ofThisProcess().seconds - cpuBefore
        )
    }
}
