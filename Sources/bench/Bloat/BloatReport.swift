import BenchSupport
import JobQueue

/// The bloat runs as text: per variant, the samples folded into at most a dozen
/// windows, each index's size, and a summary that says whether the table's size
/// levelled off and whether throughput and claim time held; then the variants side
/// by side.
struct BloatReport {
    let options: BloatOptions
    let serverSettings: [(String, String)]
    let outcomes: [SustainedLoad.Outcome]
    let loadBefore: Double?
    let loadAfter: Double?

    /// Growth of the total size over the second half, relative to the first half's
    /// peak, up to which the size counts as levelled off.
    static let plateauTolerance = 0.05
    static let windows = 12

    static func megabytes(_ bytes: Int64) -> String { Format.decimal(Double(bytes) / 1_048_576, places: 1) }

    var text: String {
        var lines = [
            "bench bloat — sustained load on queue.jobs with retention pruning"
                + (options.quick ? " (--quick)" : ""),
            "  " + (options.rate > 0
                ? "\(Format.count(Double(options.rate))) jobs/s offered"
                : "saturated (\(Format.count(Double(options.backlog))) jobs kept outstanding)")
                + ", \(Format.decimal(options.duration.seconds, places: 0)) s per variant, worker concurrency "
                + "\(options.concurrency), completed jobs kept \(Format.decimal(options.retention.seconds, places: 0)) s "
                + "(pruned every \(Format.decimal(options.pruneInterval.seconds, places: 1)) s), "
                + "samples every \(Format.decimal(options.sampleInterval.seconds, places: 1)) s",
            "  server: " + serverSettings.map { "\($0.0)=\($0.1)" }.joined(separator: ", "),
            "  1-min load average \(Format.decimal(loadBefore ?? .nan)) before, \(Format.decimal(loadAfter ?? .nan)) after",
            "",
        ]
        for outcome in outcomes {
            lines += section(outcome) + [""]
        }
        lines += comparison
        return lines.joined(separator: "\n")
    }

    private func section(_ outcome: SustainedLoad.Outcome) -> [String] {
        let samples = outcome.samples
        guard let first = samples.first, let last = samples.last else { return ["\(outcome.variant.rawValue): no samples"] }
        let summary = BloatSummary(samples, duration: options.duration.seconds)
        var lines = [
            "Variant \(outcome.variant.rawValue): \(outcome.variant.summary)",
            "  reloptions {\(outcome.tableOptions)}; \(Format.count(Double(outcome.history))) completed jobs of history "
                + "at the start",
        ]
        let widths = [7, 8, 8, 9, 8, 8, 8, 9, 9, 8, 8]
        func row(_ cells: [String]) -> String {
            "  " + cells.enumerated().map { Format.padded($1, widths[$0], right: true) }.joined(separator: " ")
        }
        lines.append(row(["t s", "jobs/s", "backlog", "claim ms", "heap MB", "idx MB", "total MB", "live", "dead max",
                          "autovac", "analyze"]))
        let bounds = Self.windowBounds(samples.count)
        for (from, to) in zip(bounds, bounds.dropFirst()) {
            let start = samples[from], end = samples[to]
            let window = samples[from...to]
            lines.append(row([
                Format.decimal(end.elapsed, places: 0), Format.count(BloatSummary.rate(start, end)),
                Format.count(Double(end.outstanding)), Format.decimal(BloatSummary.claimMean(start, end), places: 2),
                Self.megabytes(end.heapBytes), Self.megabytes(end.indexTotal), Self.megabytes(end.totalBytes),
                Format.count(Double(end.liveTuples)), Format.count(Double(window.map(\.deadTuples).max() ?? 0)),
                String(end.autovacuums - first.autovacuums), String(end.autoanalyzes - first.autoanalyzes),
            ]))
        }
        lines.append("  indexes (MB): start → half → end (peak)")
        let half = samples[samples.lastIndex { $0.elapsed <= options.duration.seconds / 2 } ?? 0]
        for name in last.indexBytes.keys.sorted() {
            let peak = samples.map { $0.indexBytes[name] ?? 0 }.max() ?? 0
            lines.append(
                "    " + Format.padded(name, 26) + " \(Self.megabytes(first.indexBytes[name] ?? 0)) → "
                    + "\(Self.megabytes(half.indexBytes[name] ?? 0)) → \(Self.megabytes(last.indexBytes[name] ?? 0)) "
                    + "(\(Self.megabytes(peak)))")
        }
        lines += summary.lines.map { "  " + $0 }
        return lines
    }

    /// Sample indexes that split the run into at most `windows` equal parts.
    static func windowBounds(_ count: Int) -> [Int] {
        guard count > 1 else { return [] }
        let parts = min(windows, count - 1)
        return (0...parts).map { $0 * (count - 1) / parts }
    }

    private var comparison: [String] {
        guard outcomes.count > 1 else { return [] }
        let widths = [9, 10, 11, 9, 9, 9, 11, 21, 17]
        func row(_ cells: [String]) -> String {
            "  " + cells.enumerated().map { Format.padded($1, widths[$0], right: $0 > 0) }.joined(separator: " ")
        }
        var lines = [
            "Side by side (sizes in MB; throughput and claim time by thirds of the run)",
            row(["variant", "total end", "total peak", "2nd half", "dead max", "dead/live", "autovacuums",
                 "jobs/s by third", "claim ms"]),
        ]
        for outcome in outcomes {
            let summary = BloatSummary(outcome.samples, duration: options.duration.seconds)
            lines.append(row([
                outcome.variant.rawValue, Self.megabytes(summary.endTotal), Self.megabytes(summary.peakTotal),
                BloatSummary.percent(summary.secondHalfGrowth), Format.count(Double(summary.deadMax)),
                Format.decimal(summary.deadPerLiveMax), String(summary.autovacuums),
                summary.rateByThird.map(Format.count).joined(separator: "→"),
                summary.claimByThird.map { Format.decimal($0) }.joined(separator: "→"),
            ]))
        }
        return lines
    }
}
