import CommandLineInterface
import XCTest

/// The check that keeps declared options and help text in step.
final class HelpOptionRowsTests: XCTestCase {
    private let help = """
        Usage: tool run [--limit N] [--dry-run]

        Options:
          --limit N            at most N (default 50)
          --dry-run            change nothing
          --watch [SECONDS]    refresh every SECONDS
          --cron "NAME|CRON"   repeatable
        """

    func testReadsValuesAndFlagsFromTheOptionRowsOnly() {
        XCTAssertEqual(
            HelpOptionRows.options(in: help),
            ["--limit": true, "--dry-run": false, "--watch": true, "--cron": true])
    }

    func testAgreeingDeclarationHasNoMismatch() {
        let declared: [CommandOption] = [
            .value("--limit", "N", default: "50"), .flag("--dry-run"), .value("--watch", "[SECONDS]"),
            .value("--cron", "\"NAME|CRON\""),
        ]
        XCTAssertEqual(HelpOptionRows.mismatches(declared: declared, help: help), [])
    }

    func testReportsUndeclaredMissingAndWronglyTypedOptions() {
        let declared: [CommandOption] = [
            .flag("--limit"), .flag("--dry-run"), .value("--watch", "S"), .value("--queue", "Q"),
        ]
        XCTAssertEqual(
            HelpOptionRows.mismatches(declared: declared, help: help),
            [
                "--limit: declared as a flag, but its help row shows a value",
                "--queue is declared but its help has no row for it",
                "--cron is in its help but not declared in its options",
            ])
    }
}
