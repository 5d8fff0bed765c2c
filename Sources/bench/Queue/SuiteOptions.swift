import BenchSupport
import CommandLineInterface
import PostgresClient

/// What `bench queue suite` measures and how much of it.
struct SuiteOptions: Sendable {
    /// A worker layout: `processes` worker processes, each with `concurrency`.
    struct Fleet: Sendable, Hashable {
        var processes: Int
        var concurrency: Int
        var total: Int { processes * concurrency }
    }

    var server: PostgresConfiguration
    var jobs = 20_000
    /// Jobs per run at concurrency 1 (ours and pgbench's), which is the slowest.
    var singleJobs = 4_000
    var repetitions = 3
    var producers = 4
    var enqueueBatch = 1000
    var concurrencies = [1, 4, 16]
    var fleets = [Fleet(processes: 2, concurrency: 4), Fleet(processes: 4, concurrency: 4)]
    var latencySamples = 100
    var latencyInterval = Duration.milliseconds(50)
    var latencyConcurrency = 4
    var backlogLarge = 1_000_000
    var backlogMeasured = 10_000
    var backlogConcurrency = 4
    var pgbenchPath: String?
    var quick = false
    /// The default queue deletes its completed jobs, as the harness's limit does
    /// (the engine's default keeps them).
    var deleteCompleted = false

    func jobs(atConcurrency concurrency: Int) -> Int { concurrency == 1 ? singleJobs : jobs }

    /// pgbench's one-job-per-claim runs are slow (two commits per job) and their rate
    /// does not depend on the run's length: they process `singleJobs`.
    func referenceJobs(clients: Int, batch: Int) -> Int { batch == 1 ? singleJobs : jobs(atConcurrency: clients) }

    /// The pgbench client counts the reference rows need: every in-process
    /// concurrency and every fleet's total.
    var referenceConcurrencies: [Int] { Array(Set(concurrencies + fleets.map(\.total))).sorted() }

    /// `--quick`: a CI-sized run; later options still override it.
    private mutating func applyQuickPreset() {
        quick = true
        jobs = 5_000
        singleJobs = 2_000
        repetitions = 1
        fleets = [Fleet(processes: 2, concurrency: 4)]
        latencySamples = 50
        latencyInterval = .milliseconds(20)
        backlogLarge = 100_000
        backlogMeasured = 5_000
    }

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        server = try DatabaseOptions(arguments: &arguments).configuration
        if arguments.flag("--quick") { applyQuickPreset() }
        deleteCompleted = arguments.flag("--delete-completed")
        func positive(_ name: String, _ value: inout Int, minimum: Int = 1) throws {
            if let given = try arguments.integer(name, in: minimum...100_000_000) { value = given }
        }
        try positive("--jobs", &jobs)
        try positive("--single-jobs", &singleJobs)
        try positive("--repeat", &repetitions)
        try positive("--producers", &producers)
        try positive("--enqueue-batch", &enqueueBatch)
        try positive("--latency-samples", &latencySamples, minimum: 0)
        var intervalMilliseconds = Int(latencyInterval.milliseconds)
        try positive("--latency-interval-ms", &intervalMilliseconds, minimum: 0)
        latencyInterval = .milliseconds(intervalMilliseconds)
        try positive("--latency-concurrency", &latencyConcurrency)
        try positive("--backlog-large", &backlogLarge)
        try positive("--backlog-measured", &backlogMeasured)
        try positive("--backlog-concurrency", &backlogConcurrency)
        guard backlogMeasured <= backlogLarge else {
            throw CommandError.usage("--backlog-measured must not exceed --backlog-large", command: command)
        }
        if let list = try arguments.option("--concurrency") {
            concurrencies = try list.split(separator: ",", omittingEmptySubsequences: false).map {
                try arguments.integer(String($0), named: "--concurrency", in: 1...10_000)
            }
        }
        if let list = try arguments.option("--processes") {
            fleets = try list.split(separator: ",").map { item in
                let parts = item.split(separator: "x", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2 else {
                    throw CommandError.usage("--processes takes PxC items such as 2x4,4x4; got \"\(item)\"", command: command)
                }
                return Fleet(
                    processes: try arguments.integer(parts[0], named: "--processes P", in: 1...64),
                    concurrency: try arguments.integer(parts[1], named: "--processes C", in: 1...10_000))
            }
        }
        pgbenchPath = try arguments.option("--pgbench")
    }
}
