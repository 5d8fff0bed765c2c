import Foundation

/// A program run to completion for its output (pgbench, `pgbench --version`).
enum ChildProcess {
    /// Returns the exit status and the output (stdout and stderr together, through
    /// temporary files, so no pipe can fill up).
    static func capture(_ path: String, _ arguments: [String], environment: [String: String] = [:])
        async throws -> (Int32, String)
    {
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("bench-\(getpid())-\(UUID().uuidString).out").path
        defer {
            try? FileManager.default.removeItem(atPath: outputPath)
            try? FileManager.default.removeItem(atPath: outputPath + ".err")
        }
        let child = try SpawnedProcess(
            executable: path, arguments: arguments, environment: environment, standardOutput: .file(outputPath),
            standardError: .file(outputPath + ".err"))
        let status = await child.waitForExit()
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: outputPath + ".err", encoding: .utf8)) ?? ""
        return (status, output + errors)
    }
}
