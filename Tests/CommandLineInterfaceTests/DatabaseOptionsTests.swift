import CommandLineInterface
import PostgresClient
import XCTest

/// Every command of a program names its connections after the program, whichever
/// subcommand it is, and takes `--database-url` off the arguments.
final class DatabaseOptionsTests: XCTestCase {
    func testConnectionsAreNamedAfterTheProgramOfTheCommandPath() throws {
        var arguments = Arguments(
            ["--database-url", "postgresql://app@127.0.0.1:5432/cleaning", "--json"], commandName: "jobsctl jobs list")
        let options = try DatabaseOptions(arguments: &arguments)
        XCTAssertEqual(options.configuration.applicationName, "jobsctl")
        XCTAssertEqual(options.configuration.conninfo, "postgresql://app@127.0.0.1:5432/cleaning")
        XCTAssertTrue(arguments.flag("--json"), "options of the command itself are left for it")
        XCTAssertTrue(arguments.isEmpty)

        var worker = Arguments(["--database-url", "host=/tmp dbname=x"], commandName: "queue-worker")
        XCTAssertEqual(try DatabaseOptions(arguments: &worker).configuration.applicationName, "queue-worker")
    }

    /// `--pooling transaction` makes the connection send unnamed statements; the
    /// default is a direct (session) connection.
    func testPoolingIsAConnectionSetting() throws {
        var pooled = Arguments(
            ["--database-url", "postgresql://app@127.0.0.1:6432/cleaning", "--pooling", "transaction"],
            commandName: "queue-worker")
        XCTAssertEqual(try DatabaseOptions(arguments: &pooled).configuration.pooling, .transaction)
        var direct = Arguments(["--database-url", "postgresql://app@127.0.0.1:5432/cleaning"], commandName: "jobsctl")
        XCTAssertEqual(try DatabaseOptions(arguments: &direct).configuration.pooling, .session)
    }
}
