import Foundation

/// The `pgbench` program: found on PATH or under /usr/lib/postgresql/*/bin, run as a
/// child process with its output in a temporary file, its summary parsed.
struct Pgbench: Sendable {
    let path: String
    /// e.g. "pgbench (PostgreSQL) 15.18"
    let version: String

    /// What one run reported.
    struct Run: Sendable {
        /// Transactions per second, without the connection time.
        var transactionsPerSecond: Double
        var transactions: Int
        /// pgbench's own measure of the run: transactions / tps.
        var elapsed: Duration { .nanoseconds(Int64(Double(transactions) / transactionsPerSecond * 1e9)) }
    }

    static func locate(explicit: String?) async throws -> Pgbench {
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
            guard let (status, output) = try? await Self.capture(candidate, ["--version"]), status == 0,
                let line = output.split(separator: "\n").first, line.hasPrefix("pgbench")
            else { continue }
            return Pgbench(path: candidate, version: String(line))
        }
        throw SpawnError(
            explicit.map { "--pgbench \($0) is not a working pgbench" }
                ?? "pgbench not found on PATH or under /usr/lib/postgresql/*/bin (install postgresql, or --pgbench PATH)")
    }

    /// Runs `script` with `clients` connections, each running `transactionsPerClient`
    /// transactions, prepared statements. The connection string goes in PGDATABASE
    /// (pgbench expands a URL there as it does its dbname argument), never in argv.
    func run(
        script: String, clients: Int, transactionsPerClient: Int, variables: [String: String] = [:], conninfo: String
    ) async throws -> Run {
        let scriptPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("queue-bench-\(getpid())-\(UUID().uuidString).sql").path
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: scriptPath) }
        let threads = max(1, min(clients, ProcessInfo.processInfo.activeProcessorCount))
        var arguments = [
            "-n", "-M", "prepared", "-c", String(clients), "-j", String(threads), "-t", String(transactionsPerClient),
            "-f", scriptPath,
        ]
        for (name, value) in variables.sorted(by: { $0.key < $1.key }) { arguments += ["-D", "\(name)=\(value)"] }
        let (status, output) = try await Self.capture(path, arguments, environment: ["PGDATABASE": conninfo])
        guard status == 0 else { throw SpawnError("pgbench exited with status \(status):\n\(output)") }
        return try Self.parse(output)
    }

    static func parse(_ output: String) throws -> Run {
        var tps: Double?
        var transactions: Int?
        for line in output.split(separator: "\n") {
            if line.hasPrefix("tps = ") && line.contains("without initial connection time") {
                tps = Double(line.dropFirst("tps = ".count).prefix { !$0.isWhitespace })
            }
            // "number of transactions actually processed: 5000/5000" (with -t)
            if let range = line.range(of: "number of transactions actually processed: ") {
                transactions = Int(line[range.upperBound...].prefix { $0.isNumber })
            }
            if let range = line.range(of: "number of failed transactions: "),
                let failed = Int(line[range.upperBound...].prefix { $0.isNumber }), failed > 0
            {
                throw SpawnError("pgbench reported \(failed) failed transactions:\n\(output)")
            }
        }
        guard let tps, tps > 0, let transactions else {
            throw SpawnError("cannot read tps and transactions from pgbench's output:\n\(output)")
        }
        return Run(transactionsPerSecond: tps, transactions: transactions)
    }

    /// Runs a program to completion; returns its exit status and its output (stdout
    /// and stderr together, through a temporary file, so no pipe can fill up).
    private static func capture(_ path: String, _ arguments: [String], environment: [String: String] = [:])
        async throws -> (Int32, String)
    {
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("queue-bench-\(getpid())-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let child = try SpawnedProcess(
            executable: path, arguments: arguments, environment: environment, standardOutput: .file(outputPath),
            standardError: .file(outputPath + ".err"))
        defer { try? FileManager.default.removeItem(atPath: outputPath + ".err") }
        let status = await child.waitForExit()
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: outputPath + ".err", encoding: .utf8)) ?? ""
        return (status, output + errors)
    }
}
