import BenchSupport
/// The suite's results as a plain-text table with ratios to the references.
struct SuiteReport {
    let options: SuiteOptions
    let results: SuiteResults

    var text: String {
        var lines: [String] = []
        lines.append(
            "bench queue suite — PostgreSQL \(results.serverVersion), \(results.pgbenchVersion), "
                + "scratch database \(results.databaseName)")
        lines.append(
            "\(options.repetitions) repetition(s)\(options.quick ? " (--quick)" : ""); rates in jobs/s as median "
                + "(min–max); ratios of medians. Wall time \(Format.decimal(results.wallSeconds, places: 0)) s; "
                + "1-min load average \(Format.decimal(results.loadBefore ?? .nan)) before, "
                + "\(Format.decimal(results.loadAfter ?? .nan)) after.")
        lines.append(
            options.deleteCompleted
                ? "Completed jobs deleted at completion (--delete-completed), as pgbench's deleting limit does."
                : "Completed jobs kept as 'completed' rows (the engine's default).")
        lines.append("")
        lines += enqueueSection + [""] + processingSection + [""] + latencySection + [""] + backlogSection + [""]
            + memorySection
        return lines.joined(separator: "\n")
    }

    private var enqueueSection: [String] {
        [
            "Bulk enqueue: \(Format.count(Double(options.jobs))) jobs, \(options.producers) producers, "
                + "\(options.enqueueBatch) jobs per call",
            "  ours, enqueue([JobRequest])             " + Format.rate(results.enqueue)
                + "    client CPU " + Format.decimal((results.enqueueCosts[.ours] ?? []).median(\.clientCPU) ?? .nan, places: 1)
                + " µs/job",
            "  pgbench, INSERT … generate_series       " + Format.rate(results.referenceEnqueue)
                + "    ours/pgbench " + Format.ratio(results.enqueue, results.referenceEnqueue),
            "  pgbench, the same into queue.jobs       " + Format.rate(results.tableFloorEnqueue)
                + "    queue.jobs/pgbench " + Format.ratio(results.tableFloorEnqueue, results.referenceEnqueue)
                + " (the ceiling of ours/pgbench: constant rows, no client, no NOTIFY)",
            "  per 1 000 jobs, medians: server CPU (backends and background processes) / client CPU / WAL / wall",
        ] + SuiteResults.EnqueueSubject.allCases.map { subject in
            let costs = results.enqueueCosts[subject] ?? []
            let name = switch subject {
            case .ours: "ours"
            case .minimalTable: "pgbench, minimal table"
            case .jobTable: "pgbench, queue.jobs"
            }
            return "    " + Format.padded(name, 24, right: false) + " "
                + (costs.median(\.serverCPU).map { Format.decimal($0) + " ms" } ?? "–")
                + " / " + Format.decimal(costs.median(\.clientCPU) ?? .nan) + " ms"
                + " / " + Format.decimal(costs.median(\.walKiB) ?? .nan, places: 0) + " KiB"
                + " / " + Format.decimal(costs.median(\.wall) ?? .nan) + " ms"
        }
    }

    private var processingSection: [String] {
        let widths = [18, 7, 24, 8, 24, 9, 24, 9]
        func row(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                Format.padded(cell, widths[index], right: index > 0)
            }.joined(separator: " ")
        }
        var lines = [
            "Processing no-op jobs (enqueued beforehand, ANALYZEd), until all are completed and committed",
            "  pgbench: claim k jobs (SELECT … FOR UPDATE SKIP LOCKED + UPDATE, 1 commit), then complete them "
                + "(UPDATE, 1 commit), one connection per client",
            "  " + row(["workers", "jobs", "ours", "CPU µs", "pgbench k=1", "ours/k=1", "pgbench k=10", "ours/k=10"]),
        ]
        func referenceCells(_ ours: Samples, clients: Int) -> [String] {
            let k1 = results.reference[.init(clients: clients, batch: 1)] ?? Samples()
            let k10 = results.reference[.init(clients: clients, batch: 10)] ?? Samples()
            return [Format.rate(k1), Format.ratio(ours, k1), Format.rate(k10), Format.ratio(ours, k10)]
        }
        for concurrency in options.concurrencies {
            let ours = results.inProcess[concurrency] ?? Samples()
            lines.append(
                "  " + row(
                    ["1 process × \(concurrency)", Format.count(Double(options.jobs(atConcurrency: concurrency))),
                     Format.rate(ours), Format.decimal(results.inProcessCPU[concurrency]?.median ?? .nan, places: 0)]
                        + referenceCells(ours, clients: concurrency)))
        }
        for fleet in options.fleets {
            let ours = results.fleets[fleet] ?? Samples()
            let name = fleet.processes == 1 ? "1 child × \(fleet.concurrency)" : "\(fleet.processes) procs × \(fleet.concurrency)"
            lines.append(
                "  " + row(
                    [name, Format.count(Double(options.jobs)), Format.rate(ours),
                     Format.decimal(results.fleetCPU[fleet]?.median ?? .nan, places: 0)]
                        + referenceCells(ours, clients: fleet.total)))
        }
        lines.append("  (CPU µs = client CPU time per job: the worker's own, on the cores the server also uses; pgbench k=1 "
            + "runs process \(Format.count(Double(options.singleJobs))) jobs, k=10 runs as many as ours)")
        if results.referenceShortfall > 0 {
            lines.append("  (pgbench left \(results.referenceShortfall) jobs undone over all its runs; its rates count completed jobs)")
        }
        return lines
    }

    private var latencySection: [String] {
        guard options.latencySamples > 0 else { return ["Latency: skipped (--latency-samples 0)"] }
        let latencies = results.latencies
        let p50 = Percentile.linear(latencies, 50) ?? .nan
        let p99 = Percentile.linear(latencies, 99) ?? .nan
        return [
            "Latency, enqueue call → handler start: idle worker with concurrency \(options.latencyConcurrency), "
                + "\(options.latencySamples) single jobs every \(Int(options.latencyInterval.milliseconds)) ms",
            "  p50 \(Format.decimal(p50)) ms (goal ≤ 2)   p99 \(Format.decimal(p99)) ms (goal ≤ 5)   "
                + "min \(Format.decimal(latencies.min() ?? .nan)) ms   max \(Format.decimal(latencies.max() ?? .nan)) ms   "
                + "samples \(latencies.count)/\(options.latencySamples)",
            "  of which the enqueue call itself (statement + commit): p50 "
                + "\(Format.decimal(Percentile.linear(results.enqueueCalls, 50) ?? .nan)) ms, p99 "
                + "\(Format.decimal(Percentile.linear(results.enqueueCalls, 99) ?? .nan)) ms",
        ]
    }

    private var backlogSection: [String] {
        let slowdown = results.backlogSmall.median.flatMap { small in
            results.backlogLarge.median.map { large in (1 - large / small) * 100 }
        }
        return [
            "Backlog: the first \(Format.count(Double(options.backlogMeasured))) jobs of a runnable backlog in the same "
                + "queue, worker concurrency \(options.backlogConcurrency), VACUUM ANALYZE before each run",
            "  backlog \(Format.padded(Format.count(Double(options.backlogMeasured)), 10))  "
                + Format.rate(results.backlogSmall),
            "  backlog \(Format.padded(Format.count(Double(options.backlogLarge)), 10))  "
                + Format.rate(results.backlogLarge) + "    slowdown "
                + (slowdown.map { Format.decimal($0, places: 1) + " %" } ?? "–") + " (goal ≤ 10 %); filled in "
                + Format.decimal(results.backlogFillSeconds, places: 1) + " s",
        ]
    }

    private var memorySection: [String] {
        var lines = ["Worker process memory after processing (bench queue work; largest process of the layout, max over runs)"]
        for fleet in options.fleets {
            let peak = results.fleetPeakKiB[fleet]?.max() ?? 0
            let resident = results.fleetResidentKiB[fleet]?.max() ?? 0
            lines.append(
                "  \(fleet.processes) process(es) × \(fleet.concurrency): VmHWM \(Format.decimal(Double(peak) / 1024, places: 1)) MiB, "
                    + "VmRSS \(Format.decimal(Double(resident) / 1024, places: 1)) MiB (goal ≤ 40 MB)")
        }
        return lines
    }
}
