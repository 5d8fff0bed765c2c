import Foundation
import PostgresClient

/// What an offering round asked the worker to send (the `platform.dispatch_step`
/// type of migration 0013). The database decides and queues the next rounds
/// itself; this side sends the messages and schedules the offers' expiry.
struct DispatchStep: Sendable, Equatable {
    enum Kind: String, Sendable {
        /// Nothing to do (a stale job, an order no longer waiting).
        case none
        /// Offers were made: tell the cleaners, expire each offer at its time.
        case offered
        /// Nobody took it: tell operations and the customer (the retry is queued).
        case escalated
        /// The appointment is too close to find anyone: cancel the order.
        case tooClose = "too_close"
    }

    var kind: Kind
    var generation: Int
    var offerIDs: [Int64]

    /// Runs one round: `platform.dispatch_round`.
    static func round(
        orderID: Int64, generation: Int, round: Int, now: Date, on connection: PostgresConnection
    ) throws -> DispatchStep {
        let rows = try connection.query(
            """
            SELECT s.step, s.generation, o.id
            FROM platform.dispatch_round($1, $2::int4, $3::int4, $4) AS s LEFT JOIN LATERAL unnest(s.offer_ids) AS o(id) ON true
            """,
            [orderID, Int64(generation), Int64(round), now]
        ).rows
        guard let first = rows.first else { throw PostgresError(kind: .client, message: "dispatch_round returned no step") }
        let (step, stepGeneration) = try first.decode((String, Int32).self)
        guard let kind = Kind(rawValue: step) else {
            throw PostgresError(kind: .decoding, message: "unknown dispatch step \(step)")
        }
        return DispatchStep(
            kind: kind, generation: Int(stepGeneration), offerIDs: try rows.compactMap { try $0.decode(2, as: Int64?.self) })
    }
}
