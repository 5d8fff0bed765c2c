import Foundation

/// Runs a program to completion and collects its standard output and error together.
struct ChildOutput {
    let status: Int32
    let output: String

    static func run(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ChildOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw BenchFailure("cannot start \(path): \(error.localizedDescription)")
        }
        // Read until EOF before waiting, so a chatty child never blocks on a full pipe.
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ChildOutput(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}
