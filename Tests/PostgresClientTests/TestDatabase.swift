import Foundation
import PostgresClient
import XCTest

/// The private server `scripts/test.sh` starts. Tests that touch data fail (not
/// skip) without it: a green run must mean they ran.
enum TestDatabase {
    static var configuration: PostgresConfiguration {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !url.isEmpty else {
                throw PostgresError(kind: .client, message: "TEST_DATABASE_URL is not set: run the tests with scripts/test.sh")
            }
            return PostgresConfiguration(conninfo: url, applicationName: "tests")
        }
    }

    static func connect() throws -> PostgresConnection {
        try PostgresConnection.connect(try configuration)
    }

    /// Runs `scripts/devdb.sh <command>` on the test cluster (restart, stop, start).
    static func control(_ command: String) throws {
        let environment = ProcessInfo.processInfo.environment
        guard let script = environment["DEVDB_SCRIPT"] else {
            throw PostgresError(kind: .client, message: "DEVDB_SCRIPT is not set: run the tests with scripts/test.sh")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = [command]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PostgresError(kind: .client, message: "devdb.sh \(command) exited \(process.terminationStatus)")
        }
    }

    /// A table name unique to one test run, so tests do not collide.
    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
    }
}
