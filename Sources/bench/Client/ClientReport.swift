import BenchSupport
import Foundation

/// Formats the figures: one line per round as it finishes, then a summary table.
enum ClientReport {
    /// The ratio the issue asks for: the wrapper at ≥ 0.9 of pgbench's rate.
    static let goal = 0.9
    /// Per-round ratios further apart than this factor get a note about noise.
    static let noisySpread = 1.25

    static func roundLine(_ round: Int, of rounds: Int, _ pair: WorkloadResult.Round) -> String {
        let pgbenchCPU = microseconds(pair.pgbench.cpu.seconds, per: pair.pgbench.transactions)
        let wrapperCPU = microseconds(pair.wrapper.cpuSeconds, per: pair.wrapper.transactions)
        return
            "  round \(round)/\(rounds): pgbench \(rate(pair.pgbench.transactionsPerSecond)) tx/s (\(pgbenchCPU) µs CPU/tx), "
            + "wrapper \(rate(pair.wrapper.transactionsPerSecond)) tx/s (\(wrapperCPU) µs CPU/tx), ratio \(ratio(pair.ratio))"
    }

    static func summary(_ results: [WorkloadResult], rounds: Int, seconds: Int) {
        Output.line("")
        Output.line(
            "Summary: \(rounds) round(s) of \(seconds) s per side, 1 connection; medians; ratio = wrapper / pgbench")
        let header = [
            "workload", "pgbench tx/s", "wrapper tx/s", "ratio", "pgbench µs CPU/tx", "wrapper µs CPU/tx",
            "ratio per round",
        ]
        var table = [header]
        for result in results {
            table.append([
                result.workload.name, rate(result.pgbenchMedian), rate(result.wrapperMedian), ratio(result.ratio),
                String(format: "%.1f", result.pgbenchCPUMedian * 1e6),
                String(format: "%.1f", result.wrapperCPUMedian * 1e6),
                result.rounds.map { ratio($0.ratio) }.joined(separator: " "),
            ])
        }
        // Widths in characters, so "µ" counts as one column.
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            let cells = row.enumerated().map { column, cell in
                // Left-align the names, right-align the numbers.
                column == 0 || column == row.count - 1
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }
            Output.line(
                ("  " + cells.joined(separator: "   ")).replacingOccurrences(
                    of: " +$", with: "", options: .regularExpression))
        }
        if results.contains(where: { $0.ratioRange.upperBound > $0.ratioRange.lowerBound * noisySpread }) {
            Output.line(
                "Note: the per-round ratios spread widely. On a small machine the rate changes several-fold with "
                    + "whether the scheduler puts the server process on the client's CPU, and with other load. "
                    + "For stable figures run on an idle machine with more rounds, and pin both sides, e.g. "
                    + "taskset -pc 0 <postmaster pid> (new backends inherit it) and taskset -c 0 bench client ...")
        }
        let missed = results.filter { $0.ratio < goal }.map(\.workload.name)
        Output.line(
            missed.isEmpty
                ? "Goal (ratio ≥ \(goal)) met for every workload."
                : "Goal (ratio ≥ \(goal)) NOT met for: \(missed.joined(separator: ", ")).")
    }

    static func microseconds(_ seconds: Double, per transactions: Int) -> String {
        String(format: "%.1f", seconds * 1e6 / Double(max(transactions, 1)))
    }

    static func rate(_ value: Double) -> String { String(format: "%.0f", value) }
    static func ratio(_ value: Double) -> String { String(format: "%.2f", value) }
}
