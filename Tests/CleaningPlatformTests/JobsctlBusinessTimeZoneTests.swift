import CleaningPlatform
import Foundation
import PostgresClient
import TestSupport
import XCTest

/// `jobsctl` commands that count days, weeks or business hours in the program's zone
/// refuse, before they read or write anything (or serve, for `jobsctl console`), when
/// `BUSINESS_TIME_ZONE` is not the zone the database counts business hours in — as
/// `queue-worker` refuses to start.
final class JobsctlBusinessTimeZoneTests: XCTestCase {
    func testCommandsCountingDaysOrWeeksRefuseAZoneThatIsNotTheDatabases() async throws {
        _ = try PlatformFixture()
        let zone = try TestDatabase.connect().query("SELECT time_zone FROM platform.business_hours").scalar(String.self)
        let other = zone == "Europe/Berlin" ? "America/Chicago" : "Europe/Berlin"
        // A week no other test runs, and a report path that must not appear.
        let period = "2011-W07"
        let report = NSTemporaryDirectory() + TestDatabase.uniqueName("payouts") + ".csv"
        let commands: [[String]] = [
            ["payouts", "run", "--period", period, "--report", report, "--wait", "1"],
            ["payouts", "audit", "--period", period],
            ["campaigns", "launch", "999999999"],
            ["complaints", "report"],
            ["seed", "--customers", "1", "--cleaners", "1", "--orders", "0", "--force"],
            // Serves until stopped once it starts: it must refuse before serving.
            ["console", "--port", "0"],
        ]
        let customersBefore = try TestDatabase.connect().query("SELECT count(*)::int8 FROM platform.customers").scalar(Int64.self)
        for arguments in commands {
            let run = try await JobsctlRun.run(arguments, environment: ["BUSINESS_TIME_ZONE": other])
            let command = "jobsctl " + arguments.joined(separator: " ")
            XCTAssertEqual(run.status, 1, "\(command): \(run.output)")
            XCTAssertFalse(run.output.contains("console: http"), "\(command) served: \(run.output)")
            XCTAssertTrue(
                run.output.contains("platform.business_hours counts business hours in \(zone) but BUSINESS_TIME_ZONE is \(other)")
                    && run.output.contains("Set BUSINESS_TIME_ZONE=\(zone)"),
                "\(command): \(run.output)")
        }
        let connection = try TestDatabase.connect()
        let runs = try connection.query("SELECT count(*)::int8 FROM platform.payout_runs WHERE period = $1", [period]).scalar(Int64.self)
        XCTAssertEqual(runs, 0, "no payout run was started")
        XCTAssertFalse(FileManager.default.fileExists(atPath: report), "no payout report was written")
        let customersAfter = try connection.query("SELECT count(*)::int8 FROM platform.customers").scalar(Int64.self)
        XCTAssertEqual(customersAfter, customersBefore, "no demo data was loaded")

        // In the database's zone the same payout command runs (a dry run: writes nothing).
        let agreeing = try await JobsctlRun.run(
            ["payouts", "run", "--period", period, "--dry-run"], environment: ["BUSINESS_TIME_ZONE": zone])
        XCTAssertEqual(agreeing.status, 0, agreeing.output)
    }
}
