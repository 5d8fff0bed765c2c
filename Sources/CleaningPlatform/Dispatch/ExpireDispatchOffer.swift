import Foundation
public import JobQueue
import PostgresClient

/// An offer's time is up: unless it was answered, it expires, and when it was the
/// round's last open offer the database queues the next round — in the
/// transaction that completes the job.
public struct ExpireDispatchOffer: JobArguments {
    public static let kind = "order.dispatch_offer_expiry"

    public var offerID: Int64

    public init(offerID: Int64) {
        self.offerID = offerID
    }

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(offerID, "offerID")
    }

    static func request(offerID: Int64, at expiresAt: Date) throws -> JobRequest {
        try JobRequest(
            ExpireDispatchOffer(offerID: offerID), queue: OrderDispatch.queue, runAt: expiresAt, maxAttempts: 10,
            uniqueKey: "offer-expiry:\(offerID)", uniqueScope: .always)
    }

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let offerID = self.offerID
        guard let row = try await context.database.query(
            "SELECT status, expires_at FROM platform.dispatch_offers WHERE id = $1", [offerID]
        ).first else {
            throw JobDiscarded("offer \(offerID) does not exist")
        }
        let (status, expiresAt) = try row.decode((String, Date).self)
        guard status == "open" else { return }
        // Run early (another clock): come back when it is due.
        if expiresAt > now {
            throw JobSnoozed(for: .milliseconds(Int64(expiresAt.timeIntervalSince(now) * 1000) + 1))
        }
        try await context.completeInTransaction { connection in
            _ = try connection.query("SELECT platform.expire_offer($1, $2)", [offerID, now])
        }
    }
}
