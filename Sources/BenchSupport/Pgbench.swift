import Foundation

/// The `pgbench` program, the reference every client figure is compared with: found on
/// PATH or under /usr/lib/postgresql/*/bin, run as a child process with its output in
/// a temporary file, its summary parsed.
public struct Pgbench: Sendable {
    public let path: String
    /// e.g. "pgbench (PostgreSQL) 15.18"
    public let version: String

    /// How long each client runs: a number of transactions (`-t`) or seconds (`-T`).
    public enum Length: Sendable {
        case transactionsPerClient(Int)
        case seconds(Int)
    }

    /// What one run reported.
    public struct Run: Sendable {
        /// Transactions per second, without the connection time.
        public var transactionsPerSecond: Double
        public var transactions: Int
        /// pgbench's own CPU time (user + system) for the whole run.
        public var cpu: Duration
        /// pgbench's own measure of the run: transactions / tps.
        public var elapsed: Duration { .nanoseconds(Int64(Double(transactions) / transactionsPerSecond * 1e9)) }
    }

    public static func locate(explicit: String?) async throws -> Pgbench {
        var candidates: [String] = []
        if let explicit {
            candidates = [explicit]
        } else {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
            candidates = path.split(separator: ":").map { "\($0)/pgbench" }
            let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
                .sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
            candidates += versions.map { "/usr/lib/postgresql/\($0)/bin/pgbench" }
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            // Debian's /usr/bin/pgbench is a wrapper that exists without a server package.
            guard let (status, output) = try? await ChildProcess.capture(candidate, ["--version"]), status == 0,
                let line = output.split(separator: "\n").first, line.hasPrefix("pgbench")
            else { continue }
            return Pgbench(path: candidate, version: String(line))
        }
        if let explicit {
            throw BenchFailure(
                "--pgbench \(explicit) is not a working pgbench executable",
                hint: "pass the path of pgbench itself, e.g. /usr/lib/postgresql/15/bin/pgbench")
        }
        throw BenchFailure(
            "pgbench was not found (looked in PATH and /usr/lib/postgresql/*/bin)",
            hint: "install it (Debian/Ubuntu: apt-get install postgresql; Homebrew: brew install libpq) "
                + "or pass --pgbench PATH")
    }

    /// The arguments for one run, prepared statements; `scriptPath` is the custom script.
    public func arguments(clients: Int, length: Length, scriptPath: String, variables: [String: String]) -> [String] {
        let threads = max(1, min(clients, ProcessInfo.processInfo.activeProcessorCount))
        var arguments = ["-n", "-M", "prepared", "-c", String(clients), "-j", String(threads)]
        switch length {
        case .transactionsPerClient(let count): arguments += ["-t", String(count)]
        case .seconds(let seconds): arguments += ["-T", String(seconds)]
        }
        arguments += ["-f", scriptPath]
        for (name, value) in variables.sorted(by: { $0.key < $1.key }) { arguments += ["-D", "\(name)=\(value)"] }
        return arguments
    }

    /// Runs `script` with `clients` connections. The connection string goes in
    /// PGDATABASE (pgbench expands a URL there as it does its dbname argument), never
    /// in argv, where `ps` would show any password.
    public func run(
        script: String, clients: Int, length: Length, variables: [String: String] = [:], conninfo: String
    ) async throws -> Run {
        let scriptPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("bench-\(getpid())-\(UUID().uuidString).sql").path
        do {
            try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        } catch {
            throw BenchFailure("cannot write the pgbench script to \(scriptPath): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: scriptPath) }
        let arguments = arguments(clients: clients, length: length, scriptPath: scriptPath, variables: variables)
        let cpuBefore = CPUTime.ofReapedChildren()
        let (status, output) = try await ChildProcess.capture(
            path, arguments, environment: conninfo.isEmpty ? [:] : ["PGDATABASE": conninfo])
        let cpu = CPUTime.ofReapedChildren() - cpuBefore
        guard status == 0 else {
            throw BenchFailure(
                "pgbench exited with status \(status):\n\(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return try Self.parse(output, cpu: cpu)
    }

    static func parse(_ output: String, cpu: Duration) throws -> Run {
        var tps: Double?
        var transactions: Int?
        for line in output.split(separator: "\n") {
            // "tps = 10755.306750 (without initial connection time)"; before PostgreSQL 14
            // the line said "(excluding connections establishing)" and a second one "including".
            if line.hasPrefix("tps = "), !line.contains("including connections") {
                tps = Double(line.dropFirst("tps = ".count).prefix { !$0.isWhitespace })
            }
            // "number of transactions actually processed: 5000/5000" (with -t)
            if let range = line.range(of: "number of transactions actually processed: ") {
                transactions = Int(line[range.upperBound...].prefix { $0.isNumber })
            }
            if let range = line.range(of: "number of failed transactions: "),
                let failed = Int(line[range.upperBound...].prefix { $0.isNumber }), failed > 0
            {
                throw BenchFailure("pgbench reported \(failed) failed transactions:\n\(output)")
            }
        }
        guard let tps, tps > 0, let transactions else {
            throw BenchFailure("cannot read tps and transactions from pgbench's output:\n\(output)")
        }
        return Run(transactionsPerSecond: tps, transactions: transactions, cpu: cpu)
    }
}
