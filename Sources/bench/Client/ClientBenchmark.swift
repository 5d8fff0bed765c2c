import BenchSupport
import CommandLineInterface
import Foundation
import PostgresClient

/// The whole run: checks, setup, the alternating measurements, cleanup, report.
struct ClientBenchmark {
    let options: ClientCommand

    init(command: ClientCommand) { options = command }

    func run() async throws {
        let pgbench = try await Pgbench.locate(explicit: options.pgbenchPath)
        let configuration = options.database.configuration
        let admin = try connect(configuration)
        let serverVersion = try admin.query("SHOW server_version").scalar(String.self)

        let target = configuration.conninfo.isEmpty ? "libpq defaults (PG* variables)" : configuration.redactedConninfo
        let scriptArguments = pgbench.arguments(
            clients: 1, length: .seconds(options.seconds), scriptPath: "<script>", variables: [:])
        Output.line(
            "bench client: PostgresClient wrapper vs pgbench, 1 connection, \(options.seconds) s per run, "
                + "\(options.rounds) round(s) per workload")
        Output.line("server:   PostgreSQL \(serverVersion) at \(target)")
        Output.line("pgbench:  \(pgbench.path) (\(pgbench.version))")
        Output.line("          run as: PGDATABASE=<url> pgbench \(scriptArguments.joined(separator: " "))")
        Output.line(
            "machine:  \(ProcessInfo.processInfo.activeProcessorCount) CPU cores, shared by the server, "
                + "pgbench and the wrapper; load average \(LoadAverage.text()) at the start")

        try BenchTables.create(on: admin)
        var results: [WorkloadResult] = []
        do {
            for workload in Workload.all {
                results.append(try await measure(workload, pgbench: pgbench, configuration: configuration))
            }
            try verifyInserts(results, on: admin)
        } catch {
            dropTablesAfterFailure(admin, configuration: configuration)
            throw error
        }
        try BenchTables.drop(on: admin)
        ClientReport.summary(results, rounds: options.rounds, seconds: options.seconds)
    }

    /// Alternates pgbench and the wrapper, so drift and noise show up in both columns.
    private func measure(
        _ workload: Workload, pgbench: Pgbench, configuration: PostgresConfiguration
    ) async throws -> WorkloadResult {
        Output.line("")
        Output.line("\(workload.name): \(workload.summary)")
        let variables = workload.pgbenchVariables.map { " -D \($0.key)=\($0.value)" }.sorted().joined()
        Output.line("  pgbench script\(variables.isEmpty ? "" : " (with\(variables))"):")
        for line in workload.pgbenchScript.split(separator: "\n") { Output.line("    \(line)") }
        var result = WorkloadResult(workload: workload)
        for round in 1...options.rounds {
            let reference = try await pgbench.run(
                script: workload.pgbenchScript, clients: 1, length: .seconds(options.seconds),
                variables: workload.pgbenchVariables, conninfo: configuration.conninfo)
            let connection = try connect(configuration)
            let ours = try WrapperLoop.run(
                workload, on: connection, seconds: options.seconds, seed: 0x5EED_0000 + UInt64(round))
            let pair = WorkloadResult.Round(pgbench: reference, wrapper: ours)
            result.rounds.append(pair)
            Output.line(ClientReport.roundLine(round, of: options.rounds, pair))
        }
        return result
    }

    /// Every transaction either side reported must be a row in the insert table:
    /// a check that both counts (and so both rates) are real.
    private func verifyInserts(_ results: [WorkloadResult], on connection: PostgresConnection) throws {
        guard let inserts = results.first(where: { $0.workload.name == Workload.insert.name }) else { return }
        let reported = inserts.rounds.reduce(0) { $0 + $1.pgbench.transactions + $1.wrapper.transactions }
        let rows = try BenchTables.insertedRows(on: connection)
        guard rows == Int64(reported) else {
            throw BenchFailure(
                "insert check failed: \(BenchTables.insert) holds \(rows) rows, but pgbench and the wrapper "
                    + "reported \(reported) inserts together")
        }
        Output.line("  checked: \(rows) rows in \(BenchTables.insert) = inserts reported by pgbench and the wrapper")
    }

    private func connect(_ configuration: PostgresConfiguration) throws -> PostgresConnection {
        do {
            return try PostgresConnection.connect(configuration)
        } catch let error as PostgresError {
            throw BenchFailure(
                "cannot reach the database: \(error.message)",
                hint: "start the server, or point bench client at it with --database-url URL or DATABASE_URL "
                    + "(tried: \(configuration.conninfo.isEmpty ? "libpq defaults" : configuration.redactedConninfo))")
        }
    }

    /// Best effort: the run has already failed, and that error is the one to report.
    private func dropTablesAfterFailure(_ admin: PostgresConnection, configuration: PostgresConfiguration) {
        let connection = admin.isOpen ? admin : try? PostgresConnection.connect(configuration)
        guard let connection, (try? BenchTables.drop(on: connection)) != nil else {
            Output.log(
                "could not drop \(BenchTables.keyValue) and \(BenchTables.insert); "
                    + "the next run replaces them, or drop them yourself")
            return
        }
    }
}

/// Both sides' figures for one workload, round by round.
struct WorkloadResult {
    struct Round {
        let pgbench: Pgbench.Run
        let wrapper: WrapperLoop.Run
        var ratio: Double { wrapper.transactionsPerSecond / pgbench.transactionsPerSecond }
    }

    let workload: Workload
    var rounds: [Round] = []

    var pgbenchMedian: Double { median(rounds.map(\.pgbench.transactionsPerSecond)) }
    var wrapperMedian: Double { median(rounds.map(\.wrapper.transactionsPerSecond)) }
    /// Client CPU seconds per statement.
    var pgbenchCPUMedian: Double {
        median(rounds.map { $0.pgbench.cpu.seconds / Double(max($0.pgbench.transactions, 1)) })
    }
    var wrapperCPUMedian: Double {
        median(rounds.map { $0.wrapper.cpuSeconds / Double(max($0.wrapper.transactions, 1)) })
    }
    /// The median of the per-round ratios: each round's two runs are back to back, so
    /// slow drift cancels within a round, and the median drops rounds that another
    /// process on the machine disturbed.
    var ratio: Double { median(rounds.map(\.ratio)) }
    var ratioRange: ClosedRange<Double> {
        let ratios = rounds.map(\.ratio)
        return (ratios.min() ?? 0)...(ratios.max() ?? 0)
    }

    private func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
