import BenchSupport
import CommandLineInterface
import PostgresClient

/// What `bench bloat` runs: the sustained load, how long, and which table
/// settings it compares.
struct BloatOptions: Sendable {
    var server: PostgresConfiguration
    /// Per variant.
    var duration = Duration.seconds(300)
    /// Jobs offered per second; 0 keeps `backlog` jobs waiting instead (as fast as the
    /// worker goes).
    var rate = 1000
    var backlog = 2000
    /// How long completed jobs are kept, and how often the leader prunes them.
    var retention = Duration.seconds(60)
    var pruneInterval = Duration.seconds(5)
    var sampleInterval = Duration.seconds(5)
    var concurrency = 16
    var variants: [BloatVariant] = [.tuned, .defaults]
    var quick = false

    /// At a fixed rate the table starts as it would be after running that long: one
    /// retention period of completed jobs (finished evenly over it), so the live row
    /// count is steady from the first second and any growth is dead space. Saturated
    /// runs start empty (their rate is not known beforehand).
    var history: Int { rate > 0 ? Int(Double(rate) * retention.seconds) : 0 }

    /// `--quick`: a CI-sized run of both variants in under a minute; later options
    /// still override it.
    private mutating func applyQuickPreset() {
        quick = true
        duration = .seconds(22)
        rate = 500
        retention = .seconds(10)
        pruneInterval = .seconds(2)
        sampleInterval = .seconds(2)
    }

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        server = try DatabaseOptions(arguments: &arguments).configuration
        if arguments.flag("--quick") { applyQuickPreset() }
        func seconds(_ name: String, _ value: inout Duration, minimum: Double) throws {
            if let given = try arguments.seconds(name, in: minimum...7 * 86_400) { value = given }
        }
        func whole(_ name: String, _ value: inout Int, minimum: Int) throws {
            if let given = try arguments.integer(name, in: minimum...10_000_000) { value = given }
        }
        try seconds("--duration", &duration, minimum: 1)
        try whole("--rate", &rate, minimum: 0)
        try whole("--backlog", &backlog, minimum: 1)
        try seconds("--retention", &retention, minimum: 1)
        try seconds("--prune-interval", &pruneInterval, minimum: 0.1)
        try seconds("--sample-interval", &sampleInterval, minimum: 0.5)
        try whole("--concurrency", &concurrency, minimum: 1)
        if let list = try arguments.option("--variants") {
            variants = try list.split(separator: ",").map { name in
                guard let variant = BloatVariant(rawValue: String(name)) else {
                    let known = BloatVariant.allCases.map(\.rawValue).joined(separator: ", ")
                    throw CommandError.usage("--variants takes \(known); got \"\(name)\"", command: command)
                }
                return variant
            }
        }
    }
}
