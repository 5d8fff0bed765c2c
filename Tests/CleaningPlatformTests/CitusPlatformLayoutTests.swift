import PostgresClient
import TestSupport
import XCTest

/// On a Citus cluster (`scripts/test.sh --citus`), the platform's tables are where
/// docs/scaling.md ("The platform's tables") says: four settings tables are reference
/// tables and every other platform table stays an ordinary table on the coordinator,
/// outside Citus' metadata — the statistics triggers with transition tables fail on
/// any table Citus manages, so a change that pulls one in (a new reference table with
/// foreign keys to it, say) fails here before the platform's tests show why. On a
/// single server the test skips, saying how to run it.
final class CitusPlatformLayoutTests: XCTestCase {
    func testSettingsAreReferenceTablesAndEveryOtherPlatformTableStaysOnTheCoordinator() async throws {
        let fixture = try PlatformFixture()
        try await fixture.requireCitus()
        let managed = try await fixture.pool.query(
            """
            SELECT c.relname::text, p.partmethod::text, p.repmodel::text
            FROM pg_dist_partition AS p JOIN pg_class AS c ON c.oid = p.logicalrelid
            WHERE c.relnamespace = 'platform'::regnamespace ORDER BY c.relname
            """
        ).rows.map { try $0.decode((String, String, String).self) }
        XCTAssertEqual(
            managed.map { "\($0.0) \($0.1)\($0.2)" },
            ["business_hours nt", "complaint_escalation_contacts nt", "dispatch_settings nt", "dispatch_weights nt"],
            "platform tables in Citus' metadata (n t: a reference table); the ledger, orders, customers … are not")
    }
}
