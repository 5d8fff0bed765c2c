import Foundation
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A full small run's output never shows the database password or a phone number
/// in clear.
final class SecretsInLogsTests: XCTestCase {
    func testNoPasswordOrUnmaskedPhoneInAnyOutput() async throws {
        let password = "Pw-\(UUID().uuidString.prefix(12))"
        // The test server trusts loopback, so any password connects; what matters is
        // that it is in the URL every process gets and must never print.
        let url = try TestDatabase.url.replacingOccurrences(of: "postgres@", with: "postgres:\(password)@")
        XCTAssertTrue(url.contains(password))
        let folder = NSTemporaryDirectory() + TestDatabase.uniqueName("secrets")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], log: String) async throws -> Int32 {
            let process = try ChildProcess(
                executable: try TestDatabase.executable(executable), arguments: arguments,
                environment: ["DATABASE_URL": url].merging(environment) { $1 }, outputPath: "\(folder)/\(log).log")
            return await process.wait(timeout: .seconds(120)) ?? -99
        }
        let migrate = try await run("jobsctl", ["migrate"], log: "migrate")
        XCTAssertEqual(migrate, 0)
        let seedValue = Int.random(in: 100...999)
        let seed = try await run(
            "jobsctl", ["seed", "--force", "--customers", "60", "--cleaners", "6", "--orders", "300", "--seed", "\(seedValue)"],
            log: "seed")
        XCTAssertEqual(seed, 0)
        _ = try await run("jobsctl", ["enqueue", "tier.recalculate", "--queue", "maintenance"], log: "enqueue")
        // A connection that fails: its error names host and port, never the password.
        let refused = try await run(
            "jobsctl", ["stats"], environment: ["DATABASE_URL": "postgresql://postgres:\(password)@127.0.0.1:1/cleaning"],
            log: "refused")
        XCTAssertEqual(refused, 1)

        let worker = try ChildProcess(
            executable: try TestDatabase.executable("queue-worker"), arguments: ["--log-level", "debug", "--poll-interval", "0.2"],
            environment: ["DATABASE_URL": url], outputPath: "\(folder)/worker.log")
        let fixture = try PlatformFixture()
        // The seeded people's phone numbers start with 13000 + seed (DemoDataSet).
        let prefix = "\(13_000 + seedValue)"
        _ = try await fixture.eventually(timeout: .seconds(60)) {
            try await fixture.pool.query(
                "SELECT count(*)::int8 FROM platform.notifications WHERE status = 'sent' AND recipient LIKE $1 || '%'", [prefix]
            ).scalar(Int64.self) > 10
        }
        worker.signal(SIGTERM)
        let status = await worker.wait(timeout: .seconds(30))
        XCTAssertEqual(status, 0)

        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
        var all = ""
        for name in names { all += (try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8)) ?? "" }
        XCTAssertTrue(all.contains("notification sent"), "the worker did send messages:\n\(all.suffix(2000))")
        XCTAssertTrue(all.contains("****"), "and masked numbers in its lines")
        XCTAssertFalse(all.contains(password), "the password never appears")
        let phone = try NSRegularExpression(pattern: "(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
        let leaks = phone.matches(in: all, range: NSRange(all.startIndex..., in: all)).compactMap {
            Range($0.range, in: all).map { String(all[$0]) }
        }
        XCTAssertEqual(leaks, [], "no phone number in clear")
    }
}
