import BenchSupport
import PostgresClient

/// The server's CPU time and WAL position at one moment.
struct ServerSample {
    var cpu: CPUSample
    var walBytes: Int64

    /// CPU spent and WAL written from `self` to `later`.
    func until(_ later: ServerSample) -> (cpu: CPUSpent, walBytes: Int64) {
        (cpu.until(later.cpu), later.walBytes - walBytes)
    }
}

/// Takes samples once every backend of the scratch database has exited: a
/// backend still exiting when the server's processes are read (the workers' right
/// after they stopped, the set-up's before a run) would be missed by one sample and
/// counted by the other. `watcher` is a connection to another database, open for
/// the whole run, so its own backend is counted the same way in both samples.
struct ServerSampler {
    let serverPID: Int32?
    let watcher: PostgresConnection
    let database: String

    func take() async throws -> ServerSample {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let backends = try watcher.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", [database]
            ).scalar(Int.self)
            if backends == 0 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        // A backend leaves pg_stat_activity just before its process exits.
        try await Task.sleep(for: .milliseconds(100))
        let wal = try watcher.query("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint").scalar(Int64.self)
        return ServerSample(cpu: CPUSample.take(serverPID: serverPID), walBytes: wal)
    }
}
