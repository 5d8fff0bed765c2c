import BenchSupport
import CommandLineInterface
import Console
import Foundation
import JobQueue
import PostgresClient

/// `bench console`: how fast the console's jobs page answers with a large job table
/// (1M jobs by default) — the whole page over HTTP, database and rendering — and
/// how long an "all matching" action takes in its bounded batches.
struct ConsoleBenchCommand: Command {
    static let name = "console"
    static let summary = "time the web console's jobs page on a million-job table"
    static let options: [CommandOption] = [
        .value("--jobs", "N", default: "1000000"), .value("--repeat", "N", default: "30"), .flag("--small"),
    ] + DatabaseOptions.options
    static let help = """
        bench console — times the web console's jobs page on a large job table

        Usage: bench console [--jobs N] [--repeat N] [--small] [--database-url URL]

        In a scratch database (created and dropped): enqueues N jobs through the
        engine's bulk enqueue (4 kinds, 3 queues, arguments {"order_id": i,
        "customer_id": i mod 50000}; not timed), cancels every job of one kind through
        the console's "all matching" action (timed: batches of 1000), runs ANALYZE,
        then requests each jobs-page variant --repeat times over HTTP as a logged-in
        operator and prints the median and p95 of the whole answer: the first page,
        an argument filter with one match and with N/50000 matches (GIN index), state and
        queue, a keyset page deep in the table; and the overview's one-statement snapshot
        (read once per interval for every watching browser, the interval at least five
        times the read).

        Options:
          --jobs N             jobs in the table (default 1000000)
          --repeat N           requests per page (default 30)
          --small              100000 jobs, for a quick look
        \(DatabaseOptions.help)
        """

    let jobs: Int
    let repeats: Int
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let small = arguments.flag("--small")
        jobs = try arguments.integer("--jobs", in: 1_000...100_000_000) ?? (small ? 100_000 : 1_000_000)
        repeats = try arguments.integer("--repeat", in: 1...10_000) ?? 30
        database = try DatabaseOptions(arguments: &arguments)
    }

    static let kinds = ["order.reminder", "notification.dispatch", "payout.settle", "exam.grade"]
    static let queues = ["default", "notifications", "payouts"]

    func run() async throws {
        try await ScratchDatabase.using(on: database.configuration) { scratch in
            let connection = try PostgresConnection.connect(scratch.configuration)
            try PostgresMigrator(directory: try MigrationsDirectory.resolve()).migrate(on: connection)
            let load = Date()
            let batch = 10_000
            for start in stride(from: 0, to: jobs, by: batch) {
                let requests = (start..<min(start + batch, jobs)).map { index in
                    JobRequest(
                        kind: Self.kinds[index % Self.kinds.count],
                        argumentsJSON: "{\"order_id\": \(index), \"customer_id\": \(index % 50_000)}",
                        queue: Self.queues[index % Self.queues.count], runAt: Date().addingTimeInterval(86_400))
                }
                _ = try connection.withTransaction { try $0.enqueue(requests) }
            }
            print(String(format: "enqueued %d jobs in %.0fs (not timed)", jobs, Date().timeIntervalSince(load)))

            let pool = PostgresPool(configuration: scratch.configuration, maxConnections: 2)
            let clock = ContinuousClock()
            var cancelled = 0
            let cancelTime = try await clock.measure {
                cancelled = try await JobAdministration(database: pool).apply(
                    .cancel, matching: JobFilter(kind: Self.kinds[3]), batchSize: 1_000)
            }
            print(String(format: "all matching: cancelled %d jobs in %.1fs (%.0f jobs/s, 1000 per transaction)",
                         cancelled, cancelTime.seconds, Double(cancelled) / cancelTime.seconds))
            try connection.execute("ANALYZE queue.jobs")

            let password = "bench-\(UInt64.random(in: 0...UInt64.max))"
            try ConsoleSession.setUser(name: "bench", password: password, role: .operator, on: connection)
            let token = try connection.query(
                "SELECT token FROM console.log_in($1, $2, interval '1 hour')", ["bench", password]).scalar(String.self)
            let server = try ConsoleServer(
                database: ConsoleDatabase(configuration: scratch.configuration), timeZone: TimeZone(identifier: "Asia/Shanghai")!,
                port: 0)
            server.start()
            defer { server.stop() }
            let probe = PageProbe(port: server.port, cookie: token)
            let middle = try connection.query("SELECT min(id) + (max(id) - min(id)) / 2 FROM queue.jobs").scalar(Int64.self)
            let manyMatches = try await JobAdministration(database: pool).count(
                matching: JobFilter(argumentsContain: "{\"customer_id\": 777}"))
            let pages: [(String, String)] = [
                ("first page, no filter", "/jobs"),
                ("arguments order_id=<one job>", "/jobs?args=order_id%3D\(jobs / 3)"),
                ("arguments customer_id=777 (\(manyMatches) jobs)", "/jobs?args=customer_id%3D777"),
                ("state scheduled, queue payouts", "/jobs?state=scheduled&queue=payouts"),
                ("keyset page in the middle, kind", "/jobs?kind=payout.settle&after=\(middle)"),
            ]
            var table = TextTable(["page", "status", "rows", "median ms", "p95 ms", "bytes"])
            for (name, path) in pages {
                var times: [Double] = []
                var last = PageProbe.Answer(status: 0, bytes: 0, jobRows: 0, elapsed: .zero)
                for _ in 0..<repeats {
                    last = try probe.get(path)
                    times.append(last.elapsed.milliseconds)
                }
                guard last.status == 200 else { throw ConsoleBenchFailure("\(path) answered \(last.status)") }
                table.append([
                    name, "\(last.status)", path.hasPrefix("/jobs") ? "\(last.jobRows)" : "-", Format.decimal(Percentile.linear(times, 50) ?? 0, places: 1),
                    Format.decimal(Percentile.linear(times, 95) ?? 0, places: 1), "\(last.bytes)",
                ])
            }
            var snapshot: [Double] = []
            for _ in 0..<min(repeats, 10) {
                snapshot.append(try clock.measure { _ = try JobOverview.read(on: connection) }.milliseconds)
            }
            table.append([
                "overview snapshot read (shared)", "-", "-", Format.decimal(Percentile.linear(snapshot, 50) ?? 0, places: 1),
                Format.decimal(Percentile.linear(snapshot, 95) ?? 0, places: 1), "-",
            ])
            print("jobs page on \(jobs) jobs, \(repeats) requests each, whole HTTP answer; load average \(LoadAverage.text(places: 1)):")
            print(table.render())
        }
    }
}
