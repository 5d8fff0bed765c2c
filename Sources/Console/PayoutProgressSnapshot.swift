import CleaningPlatform
import Foundation
import PostgresClient

/// The payout runs' progress as the payouts page shows it live (the runs it lists).
struct PayoutProgressSnapshot: LiveSnapshot {
    var takenAt: Date
    var runs: [PayoutRunProgress]

    /// As many runs as the payouts page lists.
    static let runs = 52

    static func read(on connection: PostgresConnection) throws -> PayoutProgressSnapshot {
        PayoutProgressSnapshot(takenAt: Date(), runs: try PayoutRunProgress.newest(runs, on: connection))
    }
}
