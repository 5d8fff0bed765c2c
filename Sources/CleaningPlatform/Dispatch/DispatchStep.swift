import Foundation
import PostgresClient

/// What a dispatch function in the database asked its caller to do next (the
/// `platform.dispatch_step` type of migration 0013). The database decides; the
/// Swift side runs the effects: messages through the outbox and jobs.
struct DispatchStep: Sendable, Equatable {
    enum Kind: String, Sendable {
        /// Nothing to do (a stale job, a round with offers still open).
        case none
        /// Offers were made: tell the cleaners, expire each offer at its time.
        case offered
        /// Run the given round now.
        case next
        /// Nobody took it: tell operations and the customer, run the given round at `runAt`.
        case escalated
        /// The appointment is too close to find anyone: cancel the order.
        case tooClose = "too_close"
    }

    var kind: Kind
    var generation: Int
    var round: Int
    var runAt: Date
    var offerIDs: [Int64]

    /// Calls a function returning `platform.dispatch_step` (`call` is its
    /// invocation with parameters, e.g. `platform.expire_offer($1, $2)`).
    static func query(_ call: String, _ parameters: [any PostgresEncodable], on connection: PostgresConnection) throws
        -> DispatchStep
    {
        let rows = try connection.query(
            "SELECT s.step, s.generation, s.round, s.run_at, o.id FROM \(call) AS s LEFT JOIN LATERAL unnest(s.offer_ids) AS o(id) ON true",
            parameters
        ).rows
        guard let first = rows.first else { throw PostgresError(kind: .client, message: "\(call) returned no step") }
        let (step, generation, round, runAt) = try first.decode((String, Int32?, Int32?, Date).self)
        guard let kind = Kind(rawValue: step) else {
            throw PostgresError(kind: .decoding, message: "unknown dispatch step \(step)")
        }
        return DispatchStep(
            kind: kind, generation: Int(generation ?? 0), round: Int(round ?? 0), runAt: runAt,
            offerIDs: try rows.compactMap { try $0.decode(4, as: Int64?.self) })
    }
}
