import BenchSupport
import CommandLineInterface
import PostgresClient

/// `bench bloat`: does `queue.jobs` stay the same size under sustained load
/// with retention pruning, and do its table settings matter for that?
struct BloatCommand: Command {
    static let name = "bloat"
    static let summary = "table and index sizes of queue.jobs under sustained load with retention pruning"
    static let options: [CommandOption] = [
        .flag("--quick"), .value("--duration", "S", default: "300"), .value("--rate", "N", default: "1000"),
        .value("--backlog", "N", default: "2000"), .value("--retention", "S", default: "60"),
        .value("--prune-interval", "S", default: "5"), .value("--sample-interval", "S", default: "5"),
        .value("--concurrency", "N", default: "16"), .value("--variants", "LIST", default: "tuned,defaults"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: bench bloat [OPTIONS]

        For each variant of the job table's settings, in its own scratch database (created
        and dropped): at a fixed rate, first one retention period of completed jobs
        (finished evenly over it, so the live row count is steady from the start); then for
        --duration a producer enqueues no-op jobs, one worker in this process runs them and,
        as its leader service, prunes completed jobs older than --retention. Every
        --sample-interval it records pg_relation_size / pg_total_relation_size of queue.jobs
        and of each index, n_live_tup, n_dead_tup, autovacuum and autoanalyze counts
        (pg_stat_user_tables), jobs run and the worker's claim round trips. The report says
        per variant whether the total size levels off (second half's peak within 5 % of the
        first half's) and gives throughput and claim time by thirds of the run.

        Variants: tuned (as migrated), defaults (per-table autovacuum settings reset to the
        server's), untuned (fillfactor reset too).

        Options:
          --quick                CI-sized (< 1 minute): 22 s per variant, 500 jobs/s,
                                 10 s retention pruned every 2 s, samples every 2 s
          --duration S           seconds of load per variant (default 300)
          --rate N               jobs/s offered (default 1000); 0 = as fast as the worker
                                 goes, keeping --backlog jobs outstanding (starts empty)
          --backlog N            outstanding jobs when --rate is 0 (default 2000)
          --retention S          seconds completed jobs are kept (default 60)
          --prune-interval S     seconds between pruning runs (default 5)
          --sample-interval S    seconds between samples (default 5)
          --concurrency N        the worker's concurrency (default 16)
          --variants LIST        which variants, in order (default tuned,defaults)
        \(DatabaseOptions.help)
        """

    let options: BloatOptions

    init(arguments: inout Arguments) throws {
        options = try BloatOptions(arguments: &arguments)
    }

    static let reportedSettings = [
        "server_version", "autovacuum", "autovacuum_naptime", "autovacuum_vacuum_scale_factor",
        "autovacuum_vacuum_threshold", "autovacuum_vacuum_insert_scale_factor", "autovacuum_vacuum_cost_delay",
        "autovacuum_vacuum_cost_limit", "maintenance_work_mem", "shared_buffers", "synchronous_commit",
    ]

    func run() async throws {
        let loadBefore = LoadAverage.oneMinute()
        let rows = try PostgresConnection.connect(options.server).query(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY($1)", [Self.reportedSettings]
        ).rows
        var found: [String: String] = [:]
        for row in rows {
            let (name, value) = try row.decode((String, String).self)
            found[name] = value
        }
        let settings = Self.reportedSettings.compactMap { name in found[name].map { (name, $0) } }
        InterruptCleanup.shared.install()
        var outcomes: [SustainedLoad.Outcome] = []
        for variant in options.variants {
            outcomes.append(try await SustainedLoad(options: options, variant: variant).run())
        }
        Output.line(
            BloatReport(
                options: options, serverSettings: settings, outcomes: outcomes, loadBefore: loadBefore,
                loadAfter: LoadAverage.oneMinute()
            ).text)
    }
}
