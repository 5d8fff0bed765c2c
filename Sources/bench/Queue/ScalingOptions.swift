import BenchSupport
import CommandLineInterface
import PostgresClient

/// What `bench queue scaling` measures and how much of it.
struct ScalingOptions: Sendable {
    var server: PostgresConfiguration
    /// Worker process counts, one layout each, in this order.
    var processes = [1, 2, 4, 8]
    /// Jobs each process runs at once.
    var concurrency = 4
    /// Jobs of the drain run (enqueued beforehand).
    var jobs = 20_000
    /// The mixed run's producer rate, jobs/s.
    var rate = 2_000
    /// How long the mixed run's producer enqueues.
    var seconds = 10
    var repetitions = 1
    var quick = false

    /// `--quick`: a CI-sized run; later options still override it.
    private mutating func applyQuickPreset() {
        quick = true
        processes = [1, 2]
        jobs = 2_000
        rate = 500
        seconds = 3
        repetitions = 1
    }

    init(arguments: inout Arguments) throws {
        server = try DatabaseOptions(arguments: &arguments).configuration
        if arguments.flag("--quick") { applyQuickPreset() }
        if let given = try arguments.integer("--concurrency", in: 1...10_000) { concurrency = given }
        if let given = try arguments.integer("--jobs", in: 1...100_000_000) { jobs = given }
        if let given = try arguments.integer("--rate", in: 1...1_000_000) { rate = given }
        if let given = try arguments.integer("--seconds", in: 1...3_600) { seconds = given }
        if let given = try arguments.integer("--repeat", in: 1...100) { repetitions = given }
        if let list = try arguments.option("--processes") {
            processes = try list.split(separator: ",", omittingEmptySubsequences: false).map {
                try arguments.integer(String($0), named: "--processes", in: 1...64)
            }
        }
    }
}
