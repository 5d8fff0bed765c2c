import PostgresClient
import TestSupport
import XCTest

/// On a Citus cluster (`scripts/test.sh --citus`), the platform's tables are where
/// docs/scaling.md ("The platform's tables") says: the customer-keyed, high-volume
/// tables (nightly recommendations, campaign recipients, the points ledger) are
/// distributed on `customer_id` and co-located, four settings tables are reference
/// tables, and every other platform table stays an ordinary table on the coordinator,
/// outside Citus' metadata — the statistics triggers with transition tables fail on
/// any table Citus manages, so a change that pulls one in (a new reference table with
/// foreign keys to it, say) fails here before the platform's tests show why. A
/// customer's rows are read on one shard. On a single server the tests skip, saying
/// how to run them.
final class CitusPlatformLayoutTests: XCTestCase {
    static let customerTables = ["campaign_recipients", "cleaner_recommendations", "points_ledger"]

    func testCustomerTablesAreDistributedSettingsAreReferenceTablesAndTheRestStaysOnTheCoordinator() async throws {
        let fixture = try PlatformFixture()
        try await fixture.requireCitus()
        let managed = try await fixture.pool.query(
            """
            SELECT c.relname::text, p.partmethod::text, p.repmodel::text,
                   COALESCE(column_to_column_name(p.logicalrelid, p.partkey), '')
            FROM pg_dist_partition AS p JOIN pg_class AS c ON c.oid = p.logicalrelid
            WHERE c.relnamespace = 'platform'::regnamespace ORDER BY c.relname
            """
        ).rows.map { try $0.decode((String, String, String, String).self) }
        XCTAssertEqual(
            managed.map { "\($0.0) \($0.1)\($0.2) \($0.3)" },
            [
                "business_hours nt ", "campaign_recipients hs customer_id", "cleaner_recommendations hs customer_id",
                "complaint_escalation_contacts nt ", "dispatch_settings nt ", "dispatch_weights nt ",
                "points_ledger hs customer_id",
            ],
            "platform tables in Citus' metadata (h s: hash-distributed on the column named; n t: a reference table); "
                + "the ledger, orders, customers … are not")
    }

    func testTheCustomerTablesAreColocatedAndHoldEveryKeyOnTheCustomer() async throws {
        let fixture = try PlatformFixture()
        try await fixture.requireCitus()
        let groups = try await fixture.pool.query(
            """
            SELECT table_name::text, colocation_id::int8, shard_count::int8 FROM citus_tables
            WHERE table_name::text = ANY ($1) ORDER BY 1
            """, [Self.customerTables.map { "platform.\($0)" }]
        ).rows.map { try $0.decode((String, Int64, Int64).self) }
        XCTAssertEqual(groups.map(\.0), Self.customerTables.map { "platform.\($0)" }, "distributed: \(groups)")
        XCTAssertEqual(Set(groups.map(\.1)).count, 1, "one co-location group: \(groups)")
        // Every unique key contains the distribution column, and no foreign key is left
        // (the referenced tables stay on the coordinator; docs/scaling.md says what holds them).
        let constraints = try await fixture.pool.query(
            """
            SELECT conrelid::regclass::text, contype::text, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = ANY (SELECT ('platform.' || t)::regclass FROM unnest($1::text[]) AS t)
              AND contype IN ('p', 'u', 'f') ORDER BY 1, 3
            """, [Self.customerTables]
        ).rows.map { try $0.decode((String, String, String).self) }
        XCTAssertFalse(constraints.isEmpty)
        for (table, kind, definition) in constraints {
            XCTAssertNotEqual(kind, "f", "\(table): a foreign key left: \(definition)")
            XCTAssertTrue(definition.contains("customer_id"), "\(table): \(definition) lacks the distribution column")
        }
    }

    /// The plan Citus makes for `statement` (not executed).
    private func plan(_ statement: String, _ parameters: [any PostgresEncodable], on fixture: PlatformFixture) async throws -> String {
        try await fixture.pool.query("EXPLAIN " + statement, parameters).rows
            .map { try $0.decode(0, as: String.self) }.joined(separator: "\n")
    }

    /// What an app reads for one customer — tonight's recommendations, the points
    /// history, the campaign messages counted by the frequency cap, and all three
    /// together (a join on the customer, which co-location keeps on one shard) — runs
    /// on one shard; the same read without the customer fans out to every shard.
    func testOneCustomersRowsAreReadOnOneShard() async throws {
        let fixture = try PlatformFixture()
        try await fixture.requireCitus()
        let customer = Int64(42)
        let night = "2026-12-06"
        let perCustomer = [
            "SELECT rank, cleaner_id, score FROM platform.cleaner_recommendations WHERE customer_id = $1 AND night = $2::date",
            "SELECT delta, reason, created_at FROM platform.points_ledger WHERE customer_id = $1 AND $2::text IS NOT NULL",
            """
            SELECT count(*) FROM platform.campaign_recipients
            WHERE customer_id = $1 AND status = 'queued' AND decided_at > $2::date - 7
            """,
            """
            SELECT r.rank, l.delta, c.status FROM platform.cleaner_recommendations AS r
            JOIN platform.points_ledger AS l ON l.customer_id = r.customer_id
            JOIN platform.campaign_recipients AS c ON c.customer_id = r.customer_id
            WHERE r.customer_id = $1 AND r.night = $2::date
            """,
        ]
        for statement in perCustomer {
            let plan = try await plan(statement, [customer, night], on: fixture)
            let taskCounts = plan.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0.hasPrefix("Task Count:") }
            XCTAssertEqual(taskCounts, ["Task Count: 1"], "\(statement)\nis not routed to one shard:\n\(plan)")
        }
        let everyone = try await plan(
            "SELECT rank, cleaner_id, score FROM platform.cleaner_recommendations WHERE night = $1::date", [night], on: fixture)
        XCTAssertTrue(everyone.contains("Task Count: 32"), "without the customer: every shard\n\(everyone)")
    }
}
