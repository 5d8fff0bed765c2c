import Foundation
import JobQueue
import PostgresClient

/// The overview every browser watches, read at most once per interval however many
/// browsers ask: callers within the interval share the last snapshot (and a caller
/// arriving while a read is in flight waits for that read instead of starting one).
actor OverviewSnapshot {
    private let pool: PostgresPool
    private let interval: Duration
    private var latest: (overview: JobOverview, json: [UInt8], etag: String, at: ContinuousClock.Instant)?
    private var reading: Task<(JobOverview, [UInt8], String), any Error>?
    /// How many times the database was read (for tests and the bench).
    private(set) var reads = 0

    init(pool: PostgresPool, interval: Duration) {
        self.pool = pool
        self.interval = interval
    }

    func current() async throws -> (overview: JobOverview, json: [UInt8], etag: String) {
        if let latest, ContinuousClock.now - latest.at < interval {
            return (latest.overview, latest.json, latest.etag)
        }
        if let reading { return try await reading.value }
        reads += 1
        let task = Task { [pool] in
            let overview = try await pool.withConnection { try JobOverview.read(on: $0) }
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = .sortedKeys
            var content = overview
            content.takenAt = Date(timeIntervalSince1970: 0)  // the ETag depends on the numbers only
            let etag = "\"" + String(Self.fingerprint(Array(try encoder.encode(content))), radix: 36) + "\""
            return (overview, Array(try encoder.encode(overview)), etag)
        }
        reading = task
        defer { reading = nil }
        let value = try await task.value
        latest = (value.0, value.1, value.2, ContinuousClock.now)
        return value
    }

    /// FNV-1a over the snapshot's bytes: equal numbers, equal ETag.
    static func fingerprint(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
