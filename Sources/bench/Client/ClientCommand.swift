import CommandLineInterface

/// `bench client`: the PostgresClient wrapper's single-connection rate as a ratio to
/// pgbench's, on the same server in the same run.
struct ClientCommand: Command {
    static let name = "client"
    static let summary = "the PostgresClient wrapper vs pgbench on one connection (select, insert)"
    static let options: [CommandOption] = [.value("--seconds", "N", default: "5"), .value("--rounds", "N", default: "5"), .value("--pgbench", "PATH")] + DatabaseOptions.options
    static let help = """
        Usage: bench client [--seconds N] [--rounds N] [--pgbench PATH] [--database-url URL]

        Compares the PostgresClient wrapper with pgbench on one connection, on the same
        server in the same run, for two workloads:
          select  SELECT v FROM <table> WHERE id = $1   (random primary key)
          insert  INSERT INTO <table> (k, v) VALUES ($1, $2)
        Each round runs pgbench (-M prepared -c 1 -j 1 -T N) and then the wrapper in a
        tight loop for the same N seconds; the report gives both rates and their ratio.

        Options:
          --seconds N          seconds per measured run (default 5)
          --rounds N           pgbench/wrapper pairs per workload (default 5); the summary
                               gives the median of the rounds
          --pgbench PATH       the pgbench binary (default: PATH, then /usr/lib/postgresql/*/bin)
        \(DatabaseOptions.help)

        The tables it creates (swift_pg_bench_kv, swift_pg_bench_insert) are dropped at
        the end; tables left by an interrupted run are replaced by the next one.
        Build it in release mode: swift build -c release --product bench
        """

    let seconds: Int
    let rounds: Int
    let pgbenchPath: String?
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        seconds = try arguments.integer("--seconds", in: 1...3600) ?? 5
        rounds = try arguments.integer("--rounds", in: 1...100) ?? 5
        pgbenchPath = try arguments.option("--pgbench")
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        try await ClientBenchmark(command: self).run()
    }
}
