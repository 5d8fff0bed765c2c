import Foundation

/// The `pgbench` binary the wrapper is compared with.
struct Pgbench {
    let path: String
    /// First line of `pgbench --version`, e.g. "pgbench (PostgreSQL) 15.18".
    let version: String

    /// `explicit` if given, else the first working pgbench on PATH, else the newest
    /// under /usr/lib/postgresql/*/bin (Debian and Ubuntu keep it there).
    static func locate(explicit: String?) throws -> Pgbench {
        if let explicit {
            guard let found = probe(explicit) else {
                throw BenchFailure(
                    "--pgbench \(explicit) is not a working pgbench executable",
                    hint: "pass the path of pgbench itself, e.g. /usr/lib/postgresql/15/bin/pgbench")
            }
            return found
        }
        for candidate in candidates() {
            if let found = probe(candidate) { return found }
        }
        throw BenchFailure(
            "pgbench was not found (looked in PATH and /usr/lib/postgresql/*/bin)",
            hint: "install it (Debian/Ubuntu: apt-get install postgresql; Homebrew: brew install libpq) "
                + "or pass --pgbench PATH")
    }

    private static func candidates() -> [String] {
        let pathDirectories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let versioned = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
            .map { "/usr/lib/postgresql/\($0)/bin" }
        return (pathDirectories + versioned).map { $0 + "/pgbench" }
    }

    /// Runs `pgbench --version`: Debian's /usr/bin/pgbench is a wrapper script that
    /// exists even when no pgbench is installed behind it.
    private static func probe(_ path: String) -> Pgbench? {
        guard FileManager.default.isExecutableFile(atPath: path),
            let run = try? ChildOutput.run(path, ["--version"]), run.status == 0,
            let line = run.output.split(separator: "\n").first, line.hasPrefix("pgbench")
        else { return nil }
        return Pgbench(path: path, version: String(line))
    }

    /// The arguments for one run; `scriptPath` is the custom script.
    func arguments(seconds: Int, scriptPath: String, variables: [String: String]) -> [String] {
        var arguments = ["-n", "-M", "prepared", "-c", "1", "-j", "1", "-T", String(seconds), "-f", scriptPath]
        for (name, value) in variables.sorted(by: { $0.key < $1.key }) {
            arguments += ["-D", "\(name)=\(value)"]
        }
        return arguments
    }

    /// Runs `script` for `seconds` on one connection. The connection string goes in
    /// PGDATABASE (pgbench expands a URL or key=value string there like its dbname
    /// argument), not on the command line, where `ps` would show any password.
    func run(script: String, variables: [String: String], seconds: Int, conninfo: String) throws -> PgbenchRun {
        let scriptURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("pg-bench-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).sql")
        do {
            try script.write(to: scriptURL, atomically: true, encoding: .utf8)
        } catch {
            throw BenchFailure("cannot write the pgbench script to \(scriptURL.path): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: scriptURL) }

        var environment = ProcessInfo.processInfo.environment
        if !conninfo.isEmpty { environment["PGDATABASE"] = conninfo }
        let arguments = arguments(seconds: seconds, scriptPath: scriptURL.path, variables: variables)
        let cpuBefore = CPUTime.childrenSeconds()
        let run = try ChildOutput.run(path, arguments, environment: environment)
        let cpuSeconds = CPUTime.childrenSeconds() - cpuBefore
        guard run.status == 0 else {
            throw BenchFailure(
                "pgbench exited with status \(run.status):\n\(run.output.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
        return try PgbenchRun(output: run.output, cpuSeconds: cpuSeconds)
    }
}

/// The figures of one pgbench run, read from its summary.
struct PgbenchRun {
    let transactionsPerSecond: Double
    let transactions: Int
    /// pgbench's own CPU time (user + system) for the whole run.
    let cpuSeconds: Double

    init(output: String, cpuSeconds: Double) throws {
        var tps: Double?
        var transactions: Int?
        var failed = 0
        for line in output.split(separator: "\n") {
            // "tps = 10755.306750 (without initial connection time)"; before PostgreSQL 14 the
            // line said "(excluding connections establishing)" and a second one "including".
            if line.hasPrefix("tps = "), !line.contains("including connections") {
                tps = Double(line.dropFirst("tps = ".count).prefix { !$0.isWhitespace })
            } else if let value = Self.number(after: "number of transactions actually processed: ", in: line) {
                transactions = value
            } else if let value = Self.number(after: "number of failed transactions: ", in: line) {
                failed = value
            }
        }
        guard let tps, let transactions else {
            throw BenchFailure("could not read the tps and transaction count from pgbench's output:\n\(output)")
        }
        guard failed == 0 else {
            throw BenchFailure("pgbench reported \(failed) failed transactions:\n\(output)")
        }
        self.transactionsPerSecond = tps
        self.transactions = transactions
        self.cpuSeconds = cpuSeconds
    }

    private static func number(after prefix: String, in line: Substring) -> Int? {
        guard line.hasPrefix(prefix) else { return nil }
        return Int(line.dropFirst(prefix.count).prefix { $0.isNumber })
    }
}
