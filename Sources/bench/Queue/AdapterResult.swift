import BenchSupport
/// The one JSON line the adapter prints: the contract's required keys (null when a
/// figure was not measured) and the optional ones the harness report shows.
struct AdapterResult: Encodable {
    var system = "swiftqueue"
    var enqueueJobsPerSecond: Double?
    var processJobsPerSecond: Double?
    var latencyP50Milliseconds: Double?
    var latencyP99Milliseconds: Double?
    var latencySamples: Int
    var verified: Bool
    var processed: Int
    var concurrencyMeaning: String
    var notes: String
    var version: String

    private enum CodingKeys: String, CodingKey {
        case system
        case enqueueJobsPerSecond = "enqueue_jobs_per_s"
        case processJobsPerSecond = "process_jobs_per_s"
        case latencyP50Milliseconds = "latency_p50_ms"
        case latencyP99Milliseconds = "latency_p99_ms"
        case latencySamples = "latency_samples"
        case verified, processed
        case concurrencyMeaning = "concurrency_meaning"
        case notes, version
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(system, forKey: .system)
        // Required keys stay present as null; a non-finite figure is not a measurement.
        for (key, value) in [
            (CodingKeys.enqueueJobsPerSecond, enqueueJobsPerSecond), (.processJobsPerSecond, processJobsPerSecond),
            (.latencyP50Milliseconds, latencyP50Milliseconds), (.latencyP99Milliseconds, latencyP99Milliseconds),
        ] {
            if let value, value.isFinite { try container.encode(value, forKey: key) } else { try container.encodeNil(forKey: key) }
        }
        try container.encode(latencySamples, forKey: .latencySamples)
        try container.encode(verified, forKey: .verified)
        try container.encode(processed, forKey: .processed)
        try container.encode(concurrencyMeaning, forKey: .concurrencyMeaning)
        try container.encode(notes, forKey: .notes)
        try container.encode(version, forKey: .version)
    }
}
