/// `queue_worker_fenced_outcomes_total` summed over its samples in a Prometheus text
/// scrape of a worker's `/metrics` (fault-injection runs save one per stalled worker).
enum FencedOutcomeCount {
    static let metric = "queue_worker_fenced_outcomes_total"

    static func sum(inScrape text: String) -> Int {
        var total = 0.0
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix(metric + "{") || line.hasPrefix(metric + " ") {
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { total += value }
        }
        return Int(total)
    }
}
