import PostgresClient
import XCTest

/// Passwords in connection strings are found the way libpq finds them, in every
/// spelling libpq accepts, and never shown.
final class ConninfoTests: XCTestCase {
    static let secret = "S3cr-et"

    /// Every way libpq accepts of writing a password into a connection string.
    static let passwordSpellings = [
        "host=h password=\(secret)",
        "host=h\tpassword=\(secret)",
        "host=h  password  =  '\(secret) x'",
        "password=\(secret) host=h",
        "host=h password='it\\'s \(secret)'",
        "postgresql://u:\(secret)@h/db",
        "postgres://u:\(secret)@h:5432,h2:5433/db",
        "postgresql://h/db?password=\(secret)",
        "postgresql://h/db?sslmode=disable&password=\(secret)",
        "postgresql://h/db?pass%77ord=\(secret)",
        "postgresql://u:%53\(secret)@h/db",
        "postgresql:///db?host=/tmp&password=\(secret)",
    ]

    func testEverySpellingOfAPasswordIsFound() throws {
        for conninfo in Self.passwordSpellings {
            let configuration = PostgresConfiguration(conninfo: conninfo)
            XCTAssertNotNil(try configuration.settings()["password"], conninfo)
            XCTAssertTrue(configuration.containsPassword, conninfo)
        }
    }

    func testRedactionHidesThePasswordWhateverItsSpelling() throws {
        for conninfo in Self.passwordSpellings {
            let redacted = PostgresConfiguration(conninfo: conninfo).redactedConninfo
            XCTAssertFalse(redacted.contains(Self.secret), "\(conninfo) → \(redacted)")
            XCTAssertEqual(try PostgresConfiguration(conninfo: redacted).settings()["password"], "***", redacted)
        }
    }

    func testNoPasswordIsNoPassword() throws {
        for conninfo in [
            "", "host=h user=password", "postgresql://password@h/db", "postgresql://h/db?sslmode=disable",
            "postgresql://h/password",
        ] {
            let configuration = PostgresConfiguration(conninfo: conninfo)
            XCTAssertFalse(configuration.containsPassword, conninfo)
            XCTAssertEqual(configuration.redactedConninfo, conninfo, "shown unchanged")
        }
    }

    /// libpq's own parse errors quote the text they stumbled on; ours do not.
    func testAnUnparseableStringIsRefusedWithoutEchoingIt() {
        for conninfo in [
            "host=h \(Self.secret)", "PASSWORD=\(Self.secret)", "postgresql://u:\(Self.secret)%zz@h/db",
            "host=h password='\(Self.secret)", "postgresql://h/db?\(Self.secret)",
        ] {
            let configuration = PostgresConfiguration(conninfo: conninfo)
            XCTAssertThrowsError(try configuration.settings(), conninfo) { error in
                XCTAssertFalse("\(error)".contains(Self.secret), "\(error)")
            }
            XCTAssertTrue(configuration.containsPassword, "\(conninfo): unparseable counts as may-hold-a-password")
            XCTAssertFalse(configuration.redactedConninfo.contains(Self.secret))
            XCTAssertThrowsError(try PostgresConnection.connect(configuration)) { error in
                XCTAssertFalse("\(error)".contains(Self.secret), "\(error)")
            }
        }
    }
}
