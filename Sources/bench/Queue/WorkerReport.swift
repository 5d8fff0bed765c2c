import BenchSupport
/// What a `bench queue work` process reports when it is done.
struct WorkerReport: Decodable, Sendable {
    var handled: Int
    var peakKiB: Int
    var residentKiB: Int
    /// Each job's enqueue-to-start wait, from a process run with `--until-stopped`.
    var latenciesMicroseconds: [Int]?

    private enum CodingKeys: String, CodingKey {
        case handled
        case peakKiB = "vm_hwm_kib"
        case residentKiB = "vm_rss_kib"
        case latenciesMicroseconds = "latencies_us"
    }
}
