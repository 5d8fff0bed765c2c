import Foundation
import HTTPServer
import JobQueue
import PostgresClient

/// What a page shows live, read as one snapshot and stamped with its time.
protocol LiveSnapshot: Encodable, Sendable {
    var takenAt: Date { get set }
}

/// Numbers every browser watches (the overview, payout runs' progress), read at
/// most once per interval however many browsers ask: callers within the interval
/// share the last snapshot (and a caller arriving while a read is in flight waits
/// for that read instead of starting one). The interval stretches to five times
/// the last read's duration, so watching a huge backlog costs the database at most
/// a fifth of one connection's time. The ETag depends on the numbers only, so a
/// browser that has them gets a 304.
actor SharedSnapshot<Value: LiveSnapshot> {
    private let pool: PostgresPool
    private let interval: Duration
    private let read: @Sendable (PostgresConnection) throws -> Value
    private var latest: (value: Value, json: [UInt8], etag: String, at: ContinuousClock.Instant, took: Duration)?
    private var reading: Task<(Value, [UInt8], String), any Error>?

    init(pool: PostgresPool, interval: Duration, read: @escaping @Sendable (PostgresConnection) throws -> Value) {
        self.pool = pool
        self.interval = interval
        self.read = read
    }

    func current() async throws -> (value: Value, json: [UInt8], etag: String) {
        if let latest, ContinuousClock.now - latest.at < max(interval, latest.took * 5) {
            return (latest.value, latest.json, latest.etag)
        }
        if let reading { return try await reading.value }
        let started = ContinuousClock.now
        let task = Task { [pool, read] in
            let value = try await pool.withConnection { try read($0) }
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = .sortedKeys
            var content = value
            content.takenAt = Date(timeIntervalSince1970: 0)
            let etag = "\"" + String(Self.fingerprint(Array(try encoder.encode(content))), radix: 36) + "\""
            return (value, Array(try encoder.encode(value)), etag)
        }
        reading = task
        defer { reading = nil }
        let value = try await task.value
        latest = (value.0, value.1, value.2, ContinuousClock.now, ContinuousClock.now - started)
        return value
    }

    /// The snapshot as JSON, answered 304 when the browser already has it.
    func response(ifNoneMatch: String?) async throws -> HTTPResponse {
        let current = try await current()
        let headers: [(name: String, value: String)] = [("ETag", current.etag), ("Cache-Control", "no-cache")]
        if ifNoneMatch == current.etag {
            return HTTPResponse(status: 304, reason: "Not Modified", headers: headers, body: [])
        }
        return HTTPResponse(status: 200, reason: "OK", contentType: "application/json", headers: headers, body: current.json)
    }

    /// FNV-1a over the snapshot's bytes: equal numbers, equal ETag.
    static func fingerprint(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}

extension JobOverview: LiveSnapshot {}
