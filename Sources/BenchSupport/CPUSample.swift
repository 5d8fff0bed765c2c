import Foundation
public import PostgresClient

#if canImport(Glibc)
import Glibc
#endif

/// CPU seconds used so far by this process, by the database server (when it runs
/// on this machine: the postmaster and its children, read from /proc), and by the
/// whole machine, so a phase's wall time can be split into client work, server
/// work and waiting. Other engineers share the machine: `machineBusy` shows it.
public struct CPUSample: Sendable {
    public var client: Double
    public var server: Double?
    public var machineBusy: Double
    public var machineTotal: Double

    /// The postmaster's pid, found from one backend's parent; nil when the server
    /// is not a local process.
    public static func serverPID(pool: PostgresPool) async -> Int32? {
        guard let backend = try? await pool.query("SELECT pg_backend_pid()").scalar(Int32.self),
            let fields = statFields(backend), fields.count > 1, let parent = Int32(fields[1])
        else { return nil }
        return parent
    }

    public static func take(serverPID: Int32?) -> CPUSample {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue &* 1, &usage)
        let client = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        let (busy, total) = machine()
        return CPUSample(client: client, server: serverPID.flatMap(server), machineBusy: busy, machineTotal: total)
    }

    /// `later - self`.
    public func until(_ later: CPUSample) -> CPUSpent {
        let total = later.machineTotal - machineTotal
        return CPUSpent(
            client: later.client - client, server: later.server.flatMap { end in server.map { end - $0 } },
            machineBusyFraction: total > 0 ? (later.machineBusy - machineBusy) / total : nil)
    }

    private static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Fields of /proc/PID/stat after the command name (index 0 is the state).
    private static func statFields(_ pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// The postmaster's own time, its reaped children's, and its live children's.
    private static func server(_ postmaster: Int32) -> Double? {
        guard let own = statFields(postmaster), own.count > 14 else { return nil }
        // After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
        var total = [11, 12, 13, 14].compactMap { Double(own[$0]) }.reduce(0, +)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), pid != postmaster, let fields = statFields(pid), fields.count > 12,
                Int32(fields[1]) == postmaster
            else { continue }
            total += (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        }
        return total / ticks
    }

    /// Busy and total jiffies of all CPUs (from /proc/stat's first line).
    private static func machine() -> (Double, Double) {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first
        else { return (0, 0) }
        let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard values.count >= 5 else { return (0, 0) }
        let total = values.reduce(0, +)
        let idle = values[3] + values[4]  // idle + iowait
        return (total - idle, total)
    }
}

/// CPU used during one phase.
public struct CPUSpent: Sendable {
    public var client: Double
    public var server: Double?
    public var machineBusyFraction: Double?
}
