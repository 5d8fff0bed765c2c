import Foundation

// pg-bench: the PostgresClient wrapper's single-connection rate as a ratio to
// pgbench's, on the same server in the same run. See BenchOptions.usage.

let options: BenchOptions
do throws(UsageError) {
    options = try BenchOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    Console.error("pg-bench: \(error.message)\nRun 'pg-bench --help' for usage.")
    exit(64)
}

if options.showHelp {
    Console.line(BenchOptions.usage)
    exit(0)
}

do {
    try Benchmark(options: options).run()
} catch let failure as BenchFailure {
    Console.error("pg-bench: \(failure)")
    exit(1)
} catch {
    Console.error("pg-bench: \(error)")
    exit(1)
}
