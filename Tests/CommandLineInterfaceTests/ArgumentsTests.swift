import CommandLineInterface
import XCTest

/// Positional arguments never take an option's value: a URL after `--database-url`
/// is the URL, not the QUEUE or the N a command expects, so a missing N is reported
/// as missing instead of echoing the URL (password included) as a bad number.
final class ArgumentsTests: XCTestCase {
    func testAnOptionsValueIsNeverReadAsAPositionalArgument() throws {
        let url = "postgresql://admin:secret-pw@db.internal/cleaning"
        var arguments = Arguments(
            ["myq", "--database-url", url], commandName: "jobsctl queues limit", valueOptions: ["--database-url"])
        XCTAssertEqual(try arguments.required("QUEUE"), "myq")
        XCTAssertThrowsError(try arguments.required("the limit (a whole number or none)")) { error in
            XCTAssertTrue("\(error)".contains("missing the limit"), "\(error)")
            XCTAssertFalse("\(error)".contains("secret-pw"), "\(error)")
        }
        XCTAssertEqual(try arguments.option("--database-url"), url)
        try arguments.finish()
    }

    func testPositionalsAroundOptionsFlagsAndTheSeparator() throws {
        var arguments = Arguments(
            ["--queue", "mail", "first", "--force", "second", "--", "--third"], commandName: "x",
            valueOptions: ["--queue"])
        XCTAssertEqual(arguments.positional(), "first")
        XCTAssertEqual(arguments.positional(), "second")
        XCTAssertEqual(arguments.positional(), "--third", "after --, a word that looks like an option is a positional")
        XCTAssertNil(arguments.positional())
        XCTAssertEqual(try arguments.option("--queue"), "mail")
        XCTAssertTrue(arguments.flag("--force"))
        try arguments.finish()
    }
}
