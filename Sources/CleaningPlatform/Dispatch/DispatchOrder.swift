import Foundation
public import JobQueue
import PostgresClient

/// One offering round of an order's dispatch (queued by the database:
/// `platform.schedule_dispatch_round`): rank the candidates, offer the best,
/// notify them, schedule the offers' expiry — or escalate, or give up when the
/// appointment is too close. All in the transaction that completes the job, and a
/// round already run (the job ran twice) or of an older generation does nothing,
/// so a round's offers are made exactly once.
public struct DispatchOrder: JobArguments {
    public static let kind = "order.dispatch"

    public var orderID: Int64
    /// The dispatch generation it belongs to (a reschedule starts a new one).
    public var generation: Int
    public var round: Int

    public init(orderID: Int64, generation: Int, round: Int) {
        self.orderID = orderID
        self.generation = generation
        self.round = round
    }

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(orderID, "orderID")
        if generation < 1 { throw JobArgumentsError("generation must be at least 1, got \(generation)") }
        if round < 1 { throw JobArgumentsError("round must be at least 1, got \(round)") }
    }

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let round = self
        try await context.completeInTransaction { connection in
            let step = try DispatchStep.round(
                orderID: round.orderID, generation: round.generation, round: round.round, now: now, on: connection)
            try OrderDispatch.perform(step, orderID: round.orderID, now: now, on: connection)
        }
    }
}
