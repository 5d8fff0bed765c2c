import BenchSupport
import CommandLineInterface

/// `bench queue scaling`'s results as a plain-text table.
struct ScalingReport {
    let options: ScalingOptions
    let results: ScalingResults

    var text: String {
        var lines = [
            "bench queue scaling — PostgreSQL \(results.serverVersion), scratch database \(results.databaseName)",
            "\(options.repetitions) repetition(s)\(options.quick ? " (--quick)" : ""); figures are medians "
                + "(min–max). Wall time \(Format.decimal(results.wallSeconds, places: 0)) s; 1-min load average "
                + "\(Format.decimal(results.loadBefore ?? .nan)) before, \(Format.decimal(results.loadAfter ?? .nan)) after.",
            "Each process runs \(options.concurrency) jobs at once. Drain: \(Format.count(Double(options.jobs))) "
                + "no-op jobs enqueued beforehand. Mixed: a producer enqueues \(Format.count(Double(options.rate))) "
                + "jobs/s for \(options.seconds) s while the workers run; start = enqueue-to-handler wait.",
            "CPU = milliseconds of CPU per 1 000 jobs, of the server (postmaster and children) and of the worker "
                + "processes" + (results.serverCPUKnown ? "" : " (the server is not a local process: no server CPU)")
                + "; WAL = KiB of WAL the server wrote per 1 000 jobs.",
            "",
        ]
        var table = TextTable([
            "processes", "drain jobs/s", "server CPU", "worker CPU", "WAL", "mixed jobs/s", "start p50 ms",
            "start p99 ms", "server CPU", "worker CPU", "WAL",
        ])
        for processes in options.processes {
            let layout = results.layouts[processes] ?? ScalingResults.Layout()
            table.append([
                String(processes), Format.rate(layout.drainRate), Format.decimal(layout.drainServerCPU),
                Format.decimal(layout.drainWorkerCPU), Format.decimal(layout.drainWAL), Format.rate(layout.mixedRate),
                Format.decimal(layout.latencyP50), Format.decimal(layout.latencyP99), Format.decimal(layout.mixedServerCPU),
                Format.decimal(layout.mixedWorkerCPU), Format.decimal(layout.mixedWAL),
            ])
        }
        lines.append(table.render())
        let reruns = options.processes.map { results.layouts[$0]?.reruns ?? 0 }.reduce(0, +)
        if reruns > 0 {
            lines.append(
                "\(reruns) handler runs beyond one per job: leases that lapsed while a worker was starved of CPU; "
                    + "the jobs ran again and the late outcomes were refused (fencing).")
        }
        return lines.joined(separator: "\n")
    }
}
