import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `queue-testbed work` processes of one test on one queue. Each writes its output
/// to its own file in a folder of the test, so a failed assertion can show the end
/// of what every worker said.
public struct TestbedWorkers: Sendable {
    public let queue: String
    /// Where the workers' (and any other child's) output files go.
    public let logFolder: String

    public init(queue: String) throws {
        self.queue = queue
        logFolder = NSTemporaryDirectory() + TestDatabase.uniqueName("worker-logs")
        try FileManager.default.createDirectory(atPath: logFolder, withIntermediateDirectories: true)
    }

    /// Starts a worker of the queue named `name` (its worker id and log file), polling
    /// every 0.2 s; `extra` adds options such as `--concurrency 4`.
    public func start(_ name: String, _ extra: [String] = []) throws -> ChildProcess {
        try ChildProcess(
            executable: try TestDatabase.executable("queue-testbed"),
            arguments: ["work", "--queues", queue, "--poll-interval", "0.2", "--worker-id", name] + extra,
            environment: ["DATABASE_URL": try TestDatabase.url], outputPath: "\(logFolder)/\(name).log")
    }

    /// The last lines of every output file, for failure messages.
    public func logs(lastLines: Int = 15) -> String {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: logFolder)) ?? []
        return names.sorted().map { name in
            let text = (try? String(contentsOfFile: "\(logFolder)/\(name)", encoding: .utf8)) ?? ""
            return "== \(name)\n" + text.split(separator: "\n").suffix(lastLines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// SIGTERM to every worker, then their exit statuses in order (-99 for one still
    /// running after `timeout`).
    public func stop(_ workers: [ChildProcess], timeout: Duration = .seconds(30)) async -> [Int32] {
        workers.forEach { $0.signal(SIGTERM) }
        var statuses: [Int32] = []
        for worker in workers { statuses.append(await worker.wait(timeout: timeout) ?? -99) }
        return statuses
    }
}
