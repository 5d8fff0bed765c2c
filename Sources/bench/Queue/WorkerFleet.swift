import BenchSupport
import Foundation
import PostgresClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Several `bench queue work` processes working the same queue. All of them start,
/// connect and report `ready` before the clock starts; the start signal goes to all
/// at once; the clock stops when the last one has exited — each exits after it saw the
/// queue empty and shut down, i.e. after its last completion is committed. With a
/// `load` (a producer that returns once its jobs are done) the processes run
/// `--until-stopped` instead and get the stop signal when `load` returns.
struct WorkerFleet: Sendable {
    var configuration: PostgresConfiguration
    var processes: Int
    var concurrency: Int

    struct Outcome: Sendable {
        var elapsed: Duration
        var reports: [WorkerReport]
        /// CPU time of the worker processes, start to exit.
        var cpu: Duration
    }

    func run(during load: (@Sendable () async throws -> Void)? = nil) async throws -> Outcome {
        let executable = try Self.executablePath()
        var children: [SpawnedProcess] = []
        // Children not yet reaped: on any failure none of them outlives this call. A
        // reaped child's pid is never signalled (it may belong to another process by then).
        var unreaped: [SpawnedProcess] = []
        defer {
            for child in unreaped {
                child.signal(SIGKILL)
                var status: Int32 = 0
                _ = waitpid(child.pid, &status, 0)
                InterruptCleanup.shared.untrack(child.pid)
            }
            children.forEach { $0.closePipes() }
        }
        for _ in 0..<processes {
            children.append(
                try SpawnedProcess(
                    executable: executable,
                    arguments: [QueueCommands.name, WorkCommand.name, "--concurrency", String(concurrency)]
                        + (load == nil ? [] : ["--until-stopped"]),
                    environment: ["DATABASE_URL": configuration.conninfo], standardInput: .pipe,
                    standardOutput: .pipe))
            unreaped.append(children[children.count - 1])
        }
        var readers = children.map { LineReader(descriptor: $0.output!) }
        for index in readers.indices {
            let reader = readers[index]
            let (line, advanced) = await BlockingCall.run("ready-\(index)") { () -> (String?, LineReader) in
                var reader = reader
                let line = reader.next()
                return (line, reader)
            }
            readers[index] = advanced
            guard line == "ready" else {
                throw BenchFailure("worker process \(children[index].pid) did not report ready (got \(line ?? "EOF"))")
            }
        }

        let start = ContinuousClock.now
        let cpuStart = CPUTime.ofReapedChildren()
        for child in children { try child.send("go\n") }
        if let load {
            try await load()
            for child in children { try child.send("stop\n") }
        }
        // Each child's report is read while it exits: a long report (the latencies of
        // `--until-stopped`) does not fit in the pipe, and a child blocked writing it
        // would never exit.
        let finished = await withTaskGroup(of: (Int, String?, Int32).self, returning: [(Int, String?, Int32)].self) {
            group in
            for (index, child) in children.enumerated() {
                let reader = readers[index]
                group.addTask {
                    let line = await BlockingCall.run("report-\(index)") { () -> String? in
                        var reader = reader
                        return reader.next()
                    }
                    return (index, line, await child.waitForExit())
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }.sorted { $0.0 < $1.0 }
        let elapsed = ContinuousClock.now - start
        // Includes their start-up and connecting (before the clock), a few ms each.
        let cpu = CPUTime.ofReapedChildren() - cpuStart
        unreaped.removeAll()
        if let failed = finished.first(where: { $0.2 != 0 }) {
            throw BenchFailure("a worker process exited with status \(failed.2)")
        }

        var reports: [WorkerReport] = []
        for (index, line, _) in finished {
            guard let line, let report = try? JSONDecoder().decode(WorkerReport.self, from: Data(line.utf8)) else {
                throw BenchFailure("worker process \(children[index].pid) exited without its report (got \(line ?? "EOF"))")
            }
            reports.append(report)
        }
        return Outcome(elapsed: elapsed, reports: reports, cpu: cpu)
    }

    /// This executable, so the children run the same build.
    static func executablePath() throws -> String {
        guard let path = Bundle.main.executablePath ?? CommandLine.arguments.first.map({
            URL(fileURLWithPath: $0).standardizedFileURL.path
        }) else { throw BenchFailure("cannot tell where this executable is") }
        return path
    }
}
