import Foundation
import PostgresClient

/// The command line, parsed by hand (the package takes no dependencies).
struct BenchOptions {
    var databaseURL: String?
    var seconds = 5
    var rounds = 5
    var pgbenchPath: String?
    var showHelp = false

    static let usage = """
        Usage: pg-bench [--database-url URL] [--seconds N] [--rounds N] [--pgbench PATH] [--help]

        Compares the PostgresClient wrapper with pgbench on one connection, on the same
        server in the same run, for two workloads:
          select  SELECT v FROM <table> WHERE id = $1   (random primary key)
          insert  INSERT INTO <table> (k, v) VALUES ($1, $2)
        Each round runs pgbench (-M prepared -c 1 -j 1 -T N) and then the wrapper in a
        tight loop for the same N seconds; the report gives both rates and their ratio.

        Options:
          --database-url URL  the server to use (default: $DATABASE_URL, else libpq's PG* variables)
          --seconds N         seconds per measured run (default 5)
          --rounds N          pgbench/wrapper pairs per workload (default 5); the summary
                              gives the median of the rounds
          --pgbench PATH      the pgbench binary (default: PATH, then /usr/lib/postgresql/*/bin)
          --help              print this help

        The tables it creates (swift_pg_bench_kv, swift_pg_bench_insert) are dropped at
        the end; tables left by an interrupted run are replaced by the next one.
        Build it in release mode: swift build -c release --product pg-bench
        """

    /// Parses `arguments` (without the program name).
    static func parse(_ arguments: [String]) throws(UsageError) -> BenchOptions {
        var options = BenchOptions()
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            // Accept both "--flag value" and "--flag=value".
            var flag = argument
            var inlineValue: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                flag = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            func value() throws(UsageError) -> String {
                if let inlineValue { return inlineValue }
                guard let next = remaining.popFirst(), !next.hasPrefix("--") else {
                    throw UsageError("\(flag) needs a value")
                }
                return next
            }
            switch flag {
            case "--help", "-h":
                options.showHelp = true
            case "--database-url":
                let url = try value()
                guard !url.isEmpty else { throw UsageError("--database-url is empty") }
                // libpq's own parser decides, so no spelling of the password slips through.
                guard let settings = try? PostgresConfiguration(conninfo: url).settings() else {
                    throw UsageError(
                        "--database-url is neither a postgresql:// URL nor key=value settings libpq accepts "
                            + "(not shown: it may contain a password)")
                }
                guard settings["password"] == nil else {
                    throw UsageError(
                        "--database-url must not contain a password (it would be visible in `ps`); "
                            + "put it in PGPASSWORD, ~/.pgpass or DATABASE_URL")
                }
                options.databaseURL = url
            case "--seconds":
                options.seconds = try positiveInteger(flag, try value(), maximum: 3600)
            case "--rounds":
                options.rounds = try positiveInteger(flag, try value(), maximum: 100)
            case "--pgbench":
                options.pgbenchPath = try value()
            default:
                throw UsageError("unknown argument '\(argument)'")
            }
        }
        return options
    }

    private static func positiveInteger(_ flag: String, _ text: String, maximum: Int) throws(UsageError) -> Int {
        guard text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let number = Int(text), number >= 1, number <= maximum
        else {
            throw UsageError("\(flag) takes a whole number from 1 to \(maximum), got '\(text)'")
        }
        return number
    }
}

/// A command-line mistake: reported with a pointer to `--help`, exit status 64 (EX_USAGE).
struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
