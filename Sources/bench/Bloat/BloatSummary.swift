import BenchSupport
import Metrics
import JobQueue

/// What one variant's samples of `bench bloat` say: did the size level off, did
/// dead tuples stay bounded, did throughput and claim time hold over the thirds of the
/// run (a saturated run starts with an empty table, so its first third is not yet in
/// steady state: compare its middle and last thirds).
struct BloatSummary {
    var endTotal: Int64 = 0
    var peakTotal: Int64 = 0
    var firstHalfPeak: Int64 = 0
    var secondHalfPeak: Int64 = 0
    var deadMax: Int64 = 0
    var deadMean = 0.0
    var deadPerLiveMax = 0.0
    var autovacuums: Int64 = 0
    var autoanalyzes: Int64 = 0
    var hotShare = 0.0
    var pruned: Int64 = 0
    /// Jobs/s and mean claim round trip (ms) in the first, middle and last third.
    var rateByThird: [Double] = []
    var claimByThird: [Double] = []
    var lastThirdClaimP99 = 0.0
    var endBacklog = 0
    var duration = 0.0

    /// Growth of the second half's peak total size over the first half's.
    var secondHalfGrowth: Double {
        firstHalfPeak > 0 ? Double(secondHalfPeak) / Double(firstHalfPeak) - 1 : .nan
    }
    var lastVersusMiddle: Double { rateByThird.count == 3 ? rateByThird[2] / rateByThird[1] - 1 : .nan }
    var levelsOff: Bool { secondHalfGrowth <= BloatReport.plateauTolerance }

    init(_ samples: [TableSample], duration: Double) {
        self.duration = duration
        guard let first = samples.first, let last = samples.last else { return }
        let half = duration / 2
        endTotal = last.totalBytes
        peakTotal = samples.map(\.totalBytes).max() ?? 0
        firstHalfPeak = samples.filter { $0.elapsed <= half }.map(\.totalBytes).max() ?? 0
        secondHalfPeak = samples.filter { $0.elapsed > half }.map(\.totalBytes).max() ?? 0
        deadMax = samples.map(\.deadTuples).max() ?? 0
        deadMean = Double(samples.map(\.deadTuples).reduce(0, +)) / Double(samples.count)
        deadPerLiveMax = samples.map { Double($0.deadTuples) / Double(max(1, $0.liveTuples)) }.max() ?? 0
        autovacuums = last.autovacuums - first.autovacuums
        autoanalyzes = last.autoanalyzes - first.autoanalyzes
        let updates = last.updates - first.updates
        hotShare = updates > 0 ? Double(last.hotUpdates - first.hotUpdates) / Double(updates) : 0
        pruned = last.deletes - first.deletes
        endBacklog = last.outstanding
        let thirds = [0.0, 1, 2, 3].map { part in
            samples[samples.lastIndex { $0.elapsed <= duration * part / 3 + 0.5 } ?? 0]
        }
        let spans = zip(thirds, thirds.dropFirst())
        rateByThird = spans.map { Self.rate($0, $1) }
        claimByThird = spans.map { Self.claimMean($0, $1) }
        lastThirdClaimP99 = Self.claimP99Bound(thirds[2], last)
    }

    static func rate(_ start: TableSample, _ end: TableSample) -> Double {
        end.elapsed > start.elapsed ? Double(end.handled - start.handled) / (end.elapsed - start.elapsed) : .nan
    }

    /// Mean claim round trip in ms between two samples.
    static func claimMean(_ start: TableSample, _ end: TableSample) -> Double {
        let count = end.claims.count - start.claims.count
        return count > 0 ? (end.claims.sum - start.claims.sum) / Double(count) * 1000 : .nan
    }

    /// The upper bound (ms) of the histogram bucket holding the 99th percentile of
    /// the claims between two samples (infinite when it is the overflow bucket).
    static func claimP99Bound(_ start: TableSample, _ end: TableSample) -> Double {
        let counts = zip(end.claims.bucketCounts, start.claims.bucketCounts).map { $0 - $1 }
        let total = counts.reduce(0, +)
        guard total > 0 else { return .nan }
        var seen: UInt64 = 0
        for (index, count) in counts.enumerated() {
            seen += count
            if Double(seen) >= 0.99 * Double(total) {
                return index < end.claims.upperBounds.count ? end.claims.upperBounds[index] * 1000 : .infinity
            }
        }
        return .infinity
    }

    static func percent(_ fraction: Double) -> String {
        guard fraction.isFinite else { return "–" }
        return (fraction >= 0 ? "+" : "") + Format.decimal(fraction * 100, places: 1) + " %"
    }

    var lines: [String] {
        let growthPerMinute = duration > 0 ? Double(secondHalfPeak - firstHalfPeak) / (duration / 2) * 60 : .nan
        return [
            "size: total peak \(BloatReport.megabytes(firstHalfPeak)) MB in the first half, "
                + "\(BloatReport.megabytes(secondHalfPeak)) MB in the second (\(Self.percent(secondHalfGrowth)), "
                + "\(Format.decimal(growthPerMinute / 1_048_576, places: 2)) MB/min) → "
                + (levelsOff ? "levels off" : "still growing"),
            "dead tuples: mean \(Format.count(deadMean)), max \(Format.count(Double(deadMax))) "
                + "(max \(Format.decimal(deadPerLiveMax)) per live tuple); \(autovacuums) autovacuums, "
                + "\(autoanalyzes) autoanalyzes; HOT updates \(Format.decimal(hotShare * 100, places: 1)) %; "
                + "\(Format.count(Double(pruned))) rows deleted",
            "throughput by thirds: \(rateByThird.map(Format.count).joined(separator: " → ")) jobs/s "
                + "(last vs middle \(Self.percent(lastVersusMiddle))); "
                + "backlog at the end \(Format.count(Double(endBacklog)))",
            "claim round trip by thirds: mean \(claimByThird.map { Format.decimal($0) }.joined(separator: " → ")) ms "
                + "(last third p99 ≤ \(Format.decimal(lastThirdClaimP99, places: 1)) ms)",
        ]
    }
}
