import Foundation
import TestSupport
import XCTest

/// `--describe-json` of the built executables, as deployment checks read it.
final class DescribeJSONTests: XCTestCase {
    private func describe(_ program: String) async throws -> [String: Any] {
        let output = NSTemporaryDirectory() + TestDatabase.uniqueName("describe") + ".json"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = try ChildProcess(
            executable: try TestDatabase.executable(program), arguments: ["--describe-json"], outputPath: output)
        let status = await process.wait(timeout: .seconds(60))
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        XCTAssertEqual(status, 0, "\(program) --describe-json: \(text)")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    /// The node at `path` (command words) of a description.
    private func command(_ tree: [String: Any], _ path: [String]) -> [String: Any]? {
        var node = tree
        for word in path {
            guard let children = node["commands"] as? [[String: Any]],
                let next = children.first(where: { $0["name"] as? String == word })
            else { return nil }
            node = next
        }
        return node
    }

    private func options(_ node: [String: Any]?) -> [String: [String: Any]] {
        let list = node?["options"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: list.map { ($0["name"] as? String ?? "", $0) })
    }

    func testJobsctlDescribesEveryCommandWithItsOptions() async throws {
        let tree = try await describe("jobsctl")
        let names = (tree["commands"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        XCTAssertEqual(
            Set(names), [
                "migrate", "enqueue", "jobs", "queues", "stats", "cron", "payouts", "seed", "wait", "summary", "orders",
                "tiers", "exams", "dispatch", "console", "console-user", "quality", "complaints", "campaigns",
            ])
        XCTAssertEqual(options(command(tree, ["campaigns", "create"]))["--segment"]?["value_name"] as? String, "JSON")
        XCTAssertEqual(options(command(tree, ["campaigns", "create"]))["--batch-size"]?["default"] as? String, "1000")
        let console = options(command(tree, ["console"]))
        XCTAssertEqual(Set(console.keys), ["--port", "--host", "--database-url", "--pooling"])
        XCTAssertEqual(console["--port"]?["default"] as? String, "8080")
        XCTAssertEqual(Set(options(command(tree, ["console-user"])).keys), ["--role", "--database-url", "--pooling"])
        XCTAssertEqual(options(command(tree, ["complaints", "list"]))["--sla"]?["default"] as? String, "all")
        XCTAssertEqual(options(command(tree, ["complaints", "resolve"]))["--outcome"]?["takes_value"] as? Bool, true)
        XCTAssertEqual(options(command(tree, ["quality", "score"]))["--period"]?["value_name"] as? String, "YYYY-Www")
        XCTAssertEqual(options(command(tree, ["orders", "complete"]))["--at"]?["takes_value"] as? Bool, true)
        XCTAssertEqual(options(command(tree, ["dispatch", "simulate"]))["--seed"]?["default"] as? String, "20261123")
        XCTAssertEqual(options(command(tree, ["dispatch", "start-waiting"]))["--days"]?["default"] as? String, "7")
        for path in [["tiers", "recalculate"], ["exams", "grade"], ["exams", "regrade"]] {
            XCTAssertEqual(options(command(tree, path))["--as-of"]?["value_name"] as? String, "TIME", "\(path)")
        }
        let list = options(command(tree, ["jobs", "list"]))
        XCTAssertEqual(list["--state"]?["takes_value"] as? Bool, true)
        XCTAssertEqual(list["--limit"]?["default"] as? String, "50")
        XCTAssertEqual(list["--json"]?["takes_value"] as? Bool, false)
        XCTAssertNotNil(list["--database-url"])
        let run = options(command(tree, ["payouts", "run"]))
        XCTAssertEqual(Set(run.keys), ["--period", "--dry-run", "--report", "--wait", "--database-url", "--pooling"])
        XCTAssertEqual(command(tree, ["payouts", "run"])?["path"] as? String, "jobsctl payouts run")
    }

    func testBenchDescribesEverySubcommandWithItsOptions() async throws {
        let tree = try await describe("bench")
        let names = (tree["commands"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        XCTAssertEqual(Set(names), ["client", "queue", "platform", "batch", "bloat", "console"])
        XCTAssertEqual(options(command(tree, ["queue", "suite"]))["--concurrency"]?["default"] as? String, "1,4,16")
        XCTAssertEqual(options(command(tree, ["queue", "suite"]))["--quick"]?["takes_value"] as? Bool, false)
        XCTAssertEqual(options(command(tree, ["bloat"]))["--variants"]?["value_name"] as? String, "LIST")
        XCTAssertEqual(options(command(tree, ["batch"]))["--only"]?["takes_value"] as? Bool, true)
        XCTAssertEqual(options(command(tree, ["queue", "scaling"]))["--processes"]?["default"] as? String, "1,2,4,8")
        XCTAssertEqual(options(command(tree, ["queue", "work"]))["--until-stopped"]?["takes_value"] as? Bool, false)
        for path in [["client"], ["queue", "suite"], ["queue", "scaling"], ["queue", "work"], ["platform"], ["batch"], ["bloat"]] {
            XCTAssertNotNil(options(command(tree, path))["--database-url"], "\(path)")
        }
    }

    func testQueueWorkerDescribesItsOptionsQueuesAndKinds() async throws {
        let tree = try await describe("queue-worker")
        let flags = options(tree)
        XCTAssertEqual(flags["--no-listen"]?["takes_value"] as? Bool, false)
        XCTAssertEqual(flags["--grace"]?["default"] as? String, "25")
        XCTAssertEqual(flags["--metrics-port"]?["takes_value"] as? Bool, true)
        XCTAssertEqual(flags["--listen-url"]?["value_name"] as? String, "URL")
        XCTAssertEqual(flags["--pooling"]?["default"] as? String, "session")
        let work = try XCTUnwrap(tree["work"] as? [String: Any])
        let queues = try XCTUnwrap(work["default_queues"] as? [String: Int])
        XCTAssertEqual(Set(queues.keys), ["default", "reminders", "notifications", "maintenance", "payouts", "dispatch", "complaints", "campaigns"])
        XCTAssertTrue((work["kinds"] as? [String] ?? []).contains("payout.settle_cleaner"))
        XCTAssertTrue((work["kinds"] as? [String] ?? []).contains("campaign.send_batch"))
    }

    func testQueueTestbedWorkDescribesItsKinds() async throws {
        let tree = try await describe("queue-testbed")
        let work = try XCTUnwrap(command(tree, ["work"])?["work"] as? [String: Any])
        XCTAssertTrue((work["kinds"] as? [String] ?? []).contains("testbed.effect"))
        XCTAssertEqual(options(command(tree, ["work"]))["--cron"]?["takes_value"] as? Bool, true)
    }
}
