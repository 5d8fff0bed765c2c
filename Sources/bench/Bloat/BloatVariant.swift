import BenchSupport
import JobQueue
import PostgresClient

/// The settings of `queue.jobs` a bloat run compares. `tuned` is what the migrations
/// set; the others take parts of it back, so a difference between two runs is the
/// effect of what was taken back.
enum BloatVariant: String, CaseIterable, Sendable {
    /// As migrated: fillfactor 80, autovacuum after 2 % changed rows, no cost delay.
    case tuned
    /// The per-table autovacuum settings reset to the server's defaults (fillfactor
    /// 80 kept).
    case defaults
    /// Autovacuum settings and fillfactor reset: a table nobody tuned.
    case untuned

    var summary: String {
        switch self {
        case .tuned: "as migrated (fillfactor 80, autovacuum scale factors 0.02, cost delay 0)"
        case .defaults: "ALTER TABLE queue.jobs RESET (autovacuum_*): server autovacuum defaults, fillfactor 80"
        case .untuned: "ALTER TABLE queue.jobs RESET (autovacuum_*, fillfactor): no table settings at all"
        }
    }

    private static let autovacuumSettings: [JobTable.StorageSetting] = [
        .autovacuumVacuumScaleFactor, .autovacuumAnalyzeScaleFactor, .autovacuumVacuumCostDelay,
    ]

    /// Applies the variant to a freshly migrated (still empty) table.
    func apply(on connection: PostgresConnection) throws {
        switch self {
        case .tuned: break
        case .defaults: try JobTable.reset(Self.autovacuumSettings, on: connection)
        case .untuned: try JobTable.reset(Self.autovacuumSettings + [.fillfactor], on: connection)
        }
    }
}
