import Foundation
import JobQueue
import PostgresClient

/// The overview every browser watches, read at most once per interval however many
/// browsers ask: callers within the interval share the last snapshot (and a caller
/// arriving while a read is in flight waits for that read instead of starting one).
/// The interval stretches to five times the last read's duration, so watching a
/// huge backlog costs the database at most a fifth of one connection's time.
actor OverviewSnapshot {
    private let pool: PostgresPool
    private let interval: Duration
    private var latest: (overview: JobOverview, json: [UInt8], etag: String, at: ContinuousClock.Instant, took: Duration)?
    private var reading: Task<(JobOverview, [UInt8], String), any Error>?

    init(pool: PostgresPool, interval: Duration) {
        self.pool = pool
        self.interval = interval
    }

    func current() async throws -> (overview: JobOverview, json: [UInt8], etag: String) {
        if let latest, ContinuousClock.now - latest.at < max(interval, latest.took * 5) {
            return (latest.overview, latest.json, latest.etag)
        }
        if let reading { return try await reading.value }
        let started = ContinuousClock.now
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
        latest = (value.0, value.1, value.2, ContinuousClock.now, ContinuousClock.now - started)
        return value
    }

    /// FNV-1a over the snapshot's bytes: equal numbers, equal ETag.
    static func fingerprint(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
