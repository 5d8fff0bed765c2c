import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One run of the built `jobsctl` against the test database: its exit status and
/// everything it printed (stdout and stderr together).
public struct JobsctlRun: Sendable {
    public var status: Int32
    public var output: String

    /// Runs `jobsctl arguments` with `DATABASE_URL` set to the test database (plus
    /// `environment`); a run still going after a minute is killed and counts as status
    /// -99 (a command that should have refused, `jobsctl console` say, is not left serving).
    public static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> JobsctlRun {
        let outputPath = NSTemporaryDirectory() + TestDatabase.uniqueName("jobsctl") + ".out"
        let process = try ChildProcess(
            executable: try TestDatabase.executable("jobsctl"), arguments: arguments,
            environment: ["DATABASE_URL": try TestDatabase.url].merging(environment) { _, new in new }, outputPath: outputPath)
        var status: Int32 = -99
        if let exited = await process.wait(timeout: .seconds(60)) {
            status = exited
        } else {
            process.signal(SIGKILL)
            _ = await process.wait()
        }
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "<unreadable output>"
        return JobsctlRun(status: status, output: output)
    }

    /// The output parsed as JSON (for `--json` runs).
    public func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(output.utf8))
    }
}
