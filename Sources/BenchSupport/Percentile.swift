/// Percentiles with linear interpolation between the closest ranks (numpy's default):
/// rank = p/100 · (n − 1), value = x[⌊rank⌋] + (x[⌈rank⌉] − x[⌊rank⌋]) · frac(rank).
public enum Percentile {
    public static func linear(_ values: [Double], _ percent: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = percent / 100 * Double(sorted.count - 1)
        let lower = Int(rank.rounded(.down))
        let upper = Int(rank.rounded(.up))
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (rank - Double(lower))
    }
}
