import CleaningPlatform
import Foundation
import PostgresClient
import TestSupport
import XCTest

/// `jobsctl campaigns`: bad input refused with a message that says what is wrong,
/// exit status 64 and nothing written; a good campaign created, launched, paused,
/// cancelled and reported through the CLI.
final class JobsctlCampaignTests: XCTestCase {
    private func campaigns() async throws -> Int64 {
        try await PlatformFixture().pool.query("SELECT count(*)::int8 FROM platform.campaigns").scalar(Int64.self)
    }

    func testBadInputIsRefusedWithExit64BeforeAnythingIsWritten() async throws {
        let before = try await campaigns()
        let base = ["campaigns", "create", "--name", "老客回流", "--template", "campaign_offer", "--ends", "+1d"]
        let refusals: [([String], String)] = [
            (base + ["--param", "offer=8折", "--segment", #"{"tierz": ["黄金"]}"#], #"unknown segment field "tierz""#),
            (base + ["--param", "offer=8折", "--segment", #"{"last_order_older_than_days": "30"}"#],
             "last_order_older_than_days is a whole number"),
            (base + ["--param", "offer=8折", "--segment", "tiers=黄金"], "not a JSON object"),
            (base, #"needs parameter "offer""#),
            (base + ["--param", "offer"], "is not NAME=VALUE"),
            (["campaigns", "create", "--name", "x", "--template", "campaign_offer", "--param", "offer=8折",
              "--ends", "2020-01-01T10:00:00+08:00"], "which is past"),
            (base + ["--param", "offer=8折", "--starts", "+2d"], "ends before it starts"),
            (["campaigns", "create", "--name", "x", "--template", "tier_changed", "--ends", "+1d"], "is a notice template"),
            (base + ["--param", "offer=8折", "--segment", #"{"tiers": ["青铜"]}"#], #"tier "青铜" does not exist"#),
            (["campaigns", "create", "--template", "campaign_offer", "--ends", "+1d"], "--name is required"),
        ]
        for (arguments, message) in refusals {
            let run = try await JobsctlRun.run(arguments)
            XCTAssertEqual(run.status, 64, "\(arguments): \(run.output)")
            XCTAssertTrue(run.output.contains(message), "\(arguments): \(run.output)")
        }
        let after = try await campaigns()
        XCTAssertEqual(after, before, "nothing written")
    }

    /// The whole path through the CLI on a segment of nobody but this test's
    /// customer: create, launch, pause, report (JSON), cancel; a second launch of a
    /// cancelled campaign fails with the reason.
    func testCreateLaunchPauseReportCancel() async throws {
        let fixture = try PlatformFixture()
        let city = "命令城\(UUID().uuidString.prefix(8))"
        let customer = try await fixture.customer()
        _ = try await fixture.pool.query(
            """
            INSERT INTO platform.orders (customer_id, service_type_id, address, latitude, longitude, appointment_start,
                                         duration_minutes, amount_fen, paid_fen, city)
            VALUES ($1, 1, 'x', 31, 121, now(), 60, 10000, 10000, $2)
            """, [customer.id, city])
        let created = try await JobsctlRun.run([
            "campaigns", "create", "--name", "命令行", "--template", "campaign_offer", "--param", "offer=8折",
            "--segment", #"{"cities": ["\#(city)"]}"#, "--starts", "+1d", "--ends", "+2d",
        ])
        XCTAssertEqual(created.status, 0, created.output)
        let id = try XCTUnwrap(created.output.split(separator: " ").dropFirst().first.flatMap { Int64($0) }, created.output)

        let launched = try await JobsctlRun.run(["campaigns", "launch", "\(id)"])
        XCTAssertEqual(launched.status, 0, launched.output)
        XCTAssertTrue(launched.output.contains("1 customers targeted in 1 batches"), launched.output)
        let paused = try await JobsctlRun.run(["campaigns", "pause", "\(id)"])
        XCTAssertEqual(paused.status, 0, paused.output)
        let report = try await JobsctlRun.run(["campaigns", "report", "\(id)", "--json"])
        XCTAssertEqual(report.status, 0, report.output)
        let figures = try XCTUnwrap(try report.json() as? [String: Any])
        XCTAssertEqual(figures["status"] as? String, CampaignStatus.paused.rawValue)
        XCTAssertEqual(figures["targeted"] as? Int, 1)
        XCTAssertEqual(figures["waiting"] as? Int, 1)
        let cancelled = try await JobsctlRun.run(["campaigns", "cancel", "\(id)"])
        XCTAssertEqual(cancelled.status, 0, cancelled.output)
        XCTAssertTrue(cancelled.output.contains("1 recipients not reached"), cancelled.output)
        let again = try await JobsctlRun.run(["campaigns", "launch", "\(id)"])
        XCTAssertEqual(again.status, 1, again.output)
        XCTAssertTrue(again.output.contains("was cancelled; create a new campaign"), again.output)
        let listed = try await JobsctlRun.run(["campaigns", "list", "--json"])
        XCTAssertTrue(listed.output.contains("命令行"), listed.output)
    }
}
